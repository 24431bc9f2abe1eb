package train

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A Progress writing to a file or pipe reports each tenth of the work done
// once PlainEvery has passed since its last line, and nothing more.
func TestProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := newProgress(&buf, 1000, "epoch 1/3", "samples", func() time.Time { return clock })
	for i := 0; i < 100; i++ {
		clock = clock.Add(3 * time.Second) // 10 samples every 3 s: a tenth every 30 s
		p.Add(10)
	}
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 9 {
		t.Fatalf("got %d lines, want 9 (10%% to 90%%):\n%s", len(lines), buf.String())
	}
	if want := "epoch 1/3: 10% (100/1000 samples), 30s so far, about 4m30s left"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if !strings.HasPrefix(lines[8], "epoch 1/3: 90% (900/1000 samples), 4m30s so far, about 30s left") {
		t.Errorf("last line %q", lines[8])
	}
}

// A fast task writes no plain line at all; a nil Progress does nothing.
func TestProgressQuiet(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := newProgress(&buf, 50, "test", "samples", func() time.Time { return clock })
	for i := 0; i < 50; i++ {
		clock = clock.Add(100 * time.Millisecond)
		p.Add(1)
	}
	p.Finish()
	if buf.Len() != 0 {
		t.Errorf("a 5 s task wrote %q", buf.String())
	}
	var nilP *Progress
	nilP.Set(3)
	nilP.Add(1)
	nilP.Finish()
	if NewProgress(nil, 10, "x") != nil {
		t.Error("a Progress with no writer is not nil")
	}
}

// The epoch line's estimate of the run's time left.
func TestRunLeft(t *testing.T) {
	for _, c := range []struct {
		sec       float64
		ran, left int
		want      string
	}{
		{30, 2, 10, "  about 2m30s left"},
		{7200, 1, 2, "  about 4h0m0s left"},
		{30, 2, 0, ""},
	} {
		if got := runLeft(c.sec, c.ran, c.left); got != c.want {
			t.Errorf("runLeft(%v, %d, %d) = %q, want %q", c.sec, c.ran, c.left, got, c.want)
		}
	}
}
