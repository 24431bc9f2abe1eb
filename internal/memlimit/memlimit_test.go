package memlimit

import (
	"math"
	"strings"
	"testing"
)

func TestBytesSaturates(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want int64
	}{
		{[]int64{3, 4, 1000}, 12000},
		{[]int64{1e12, 12}, 12e12},
		{[]int64{math.MaxInt64 / 2, 3}, math.MaxInt64},
		{[]int64{1 << 40, 1 << 40, 0}, 0},
		{[]int64{5, -1}, math.MaxInt64},
	} {
		if got := Bytes(tc.in...); got != tc.want {
			t.Errorf("Bytes%v = %d, want %d", tc.in, got, tc.want)
		}
	}
	if Sum(math.MaxInt64-1, 5) != math.MaxInt64 || Sum(1, 2) != 3 {
		t.Error("Sum does not saturate")
	}
}

func TestCheck(t *testing.T) {
	if Limit() <= 0 {
		t.Fatalf("limit %d", Limit())
	}
	if err := Check("a little", 1<<20); err != nil {
		t.Error(err)
	}
	err := Check("sampling 1000000000000 points", Bytes(1e12, 24))
	if err == nil || !strings.Contains(err.Error(), "21.8 TiB") || !strings.Contains(err.Error(), "sampling") {
		t.Errorf("got %v, want the size needed", err)
	}
	if Check("overflow", -1) == nil {
		t.Error("a negative size passed")
	}
}

func TestHuman(t *testing.T) {
	for b, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 36e9: "33.5 GiB", 1 << 50: "1.0 PiB"} {
		if got := Human(b); got != want {
			t.Errorf("Human(%d) = %q, want %q", b, got, want)
		}
	}
}
