package nn

import (
	"slices"
	"testing"
)

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

// TestPoolTrim: Trim drops the free buffers, says how many values they
// held, and the next get of that size allocates anew; a buffer handed out
// before the trim can still be put back and reused.
func TestPoolTrim(t *testing.T) {
	p := NewPool()
	a, b := p.get(1000), p.get(300)
	p.put(a)
	if n := p.Trim(); n != sizeClass(1000) {
		t.Errorf("Trim dropped %d values, want %d", n, sizeClass(1000))
	}
	before := p.Allocated
	p.get(1000)
	if p.Allocated != before+1 {
		t.Error("a get after Trim reused a dropped buffer")
	}
	p.put(b)
	p.get(300)
	if p.Allocated != before+1 {
		t.Error("a buffer put back after Trim was not reused")
	}
	if p.Trim() != 0 {
		t.Error("an empty pool trimmed values")
	}
}

// TestRecords: only a tape that records backward functions says so.
func TestRecords(t *testing.T) {
	var nilTape *Tape
	for _, c := range []struct {
		tp   *Tape
		want bool
	}{{nilTape, false}, {NoGrad(), false}, {NewTape(true), true}, {NewTape(false), true},
		{NewTapePool(true, NewPool()).Scope(), false}} {
		if got := c.tp.Records(); got != c.want {
			t.Errorf("Records() = %v, want %v", got, c.want)
		}
	}
}

// TestReleaseSince: on a tape that records nothing, the buffers handed out
// since the mark go back to the pool but those of the kept tensors, whose
// values stay; the other tensors made since the mark are invalid (Data
// nil); what came before the mark is untouched. A recording tape keeps
// everything.
func TestReleaseSince(t *testing.T) {
	pool := NewPool()
	tp := NewTapePool(false, pool).Scope()
	x := Scale(tp, FromData([]float32{1, 2, 3, 4}, 4), 2) // before the mark
	mk := tp.Mark()
	a := Scale(tp, x, 3)
	b := Add(tp, a, x)
	c := Scale(tp, b, 0.5)
	tp.ReleaseSince(mk, c)
	if a.Data != nil || b.Data != nil {
		t.Errorf("tensors made since the mark still hold values: %v %v", a.Data, b.Data)
	}
	if want := []float32{4, 8, 12, 16}; !slices.Equal(c.Data, want) {
		t.Errorf("kept tensor %v, want %v", c.Data, want)
	}
	if want := []float32{2, 4, 6, 8}; !slices.Equal(x.Data, want) {
		t.Errorf("tensor from before the mark %v, want %v", x.Data, want)
	}
	before := pool.Allocated
	Scale(tp, x, 1)
	Scale(tp, x, 1)
	if pool.Allocated != before {
		t.Errorf("%d new buffers after two were given back", pool.Allocated-before)
	}
	// A second release with the same mark keeps c again and frees the rest.
	d := Add(tp, c, c)
	tp.ReleaseSince(mk, d)
	if c.Data != nil || d.Data == nil {
		t.Error("second release: c kept or d lost")
	}
	tp.Release()

	rec := NewTapePool(true, pool)
	w := FromData([]float32{1, 2}, 2)
	w.SetRequiresGrad(true)
	mk = rec.Mark()
	e := Scale(rec, w, 2)
	f := Scale(rec, e, 2)
	rec.ReleaseSince(mk, f)
	if e.Data == nil {
		t.Error("a recording tape released a tensor backward may read")
	}
	rec.Release()
}
