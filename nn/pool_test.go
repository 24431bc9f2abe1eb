package nn

import "testing"

func TestSizeClass(t *testing.T) {
	prev := 0
	for n := 1; n < 1<<20; n += 1 + n/97 {
		c := sizeClass(n)
		if c < n || c < prev {
			t.Fatalf("class of %d is %d (previous %d)", n, c, prev)
		}
		if n >= 256 && float64(c) > 1.25*float64(n) {
			t.Fatalf("class of %d is %d, more than 25%% larger", n, c)
		}
		if sizeClass(c) != c {
			t.Fatalf("class %d is not its own class (%d)", c, sizeClass(c))
		}
		prev = c
	}
	// Sizes a little apart share a class and reuse each other's buffers.
	p := NewPool()
	b := p.get(32 * 141 * 384)
	for i := range b {
		b[i] = 1
	}
	p.put(b)
	b2 := p.get(32 * 140 * 384)
	if &b[0] != &b2[0] || len(b2) != 32*140*384 || p.Allocated != 1 {
		t.Errorf("a buffer for 141 tokens was not reused for 140 (allocated %d)", p.Allocated)
	}
	for _, v := range b2 {
		if v != 0 {
			t.Fatal("a reused buffer is not zeroed")
		}
	}
}
