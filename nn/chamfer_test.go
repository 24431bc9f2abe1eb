package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// chamferSets draws a (bs×n×dim) and b (bs×m×dim) whose nearest
// neighbours, both ways, are each ahead of the runner-up by at least gap
// in squared distance, so that the finite-difference steps of checkGrad
// cannot change them.
func chamferSets(t *testing.T, seed uint64, bs, n, m, dim int, gap float64) (*Tensor, *Tensor) {
	t.Helper()
	for try := uint64(0); try < 1000; try++ {
		r := rand.New(rand.NewPCG(seed, try))
		a, b := randT(r, bs, n, dim), randT(r, bs, m, dim)
		if chamferMargin(a.Data, b.Data, bs, n, m, dim) >= gap && chamferMargin(b.Data, a.Data, bs, m, n, dim) >= gap {
			return a, b
		}
	}
	t.Fatalf("no sets with margin %g", gap)
	return nil, nil
}

// chamferMargin is the smallest gap between the nearest and the second
// nearest point of r over the points of q.
func chamferMargin(q, r []float32, bs, n, m, dim int) float64 {
	margin := math.Inf(1)
	for bi := 0; bi < bs; bi++ {
		for i := 0; i < n; i++ {
			d := make([]float64, m)
			for k := range d {
				d[k] = sqDist(q[(bi*n+i)*dim:(bi*n+i+1)*dim], r[(bi*m+k)*dim:(bi*m+k+1)*dim])
			}
			slices.Sort(d)
			if m > 1 {
				margin = math.Min(margin, d[1]-d[0])
			}
		}
	}
	return margin
}

func sqDist(p, q []float32) float64 {
	var s float64
	for j := range p {
		t := float64(p[j]) - float64(q[j])
		s += t * t
	}
	return s
}

// chamferRef is ChamferL2 by its definition, in float64.
func chamferRef(a, b []float32, bs, n, m, dim int) float64 {
	side := func(q, r []float32, n, m int) float64 {
		var s float64
		for bi := 0; bi < bs; bi++ {
			for i := 0; i < n; i++ {
				best := math.Inf(1)
				for k := 0; k < m; k++ {
					best = math.Min(best, sqDist(q[(bi*n+i)*dim:(bi*n+i+1)*dim], r[(bi*m+k)*dim:(bi*m+k+1)*dim]))
				}
				s += best
			}
		}
		return s / float64(bs*n)
	}
	return side(a, b, n, m) + side(b, a, m, n)
}

func TestChamferL2Value(t *testing.T) {
	for _, dim := range []int{1, 3, 4, 7} {
		r := rand.New(rand.NewPCG(5, uint64(dim)))
		bs, n, m := 3, 17, 29
		a, b := randT(r, bs, n, dim), randT(r, bs, m, dim)
		got := ChamferL2(NewTape(true), a, b)
		if len(got.Shape) != 1 || got.Shape[0] != 1 {
			t.Fatalf("shape %v", got.Shape)
		}
		want := chamferRef(a.Data, b.Data, bs, n, m, dim)
		if float64(got.Data[0]) != float64(float32(want)) && math.Abs(float64(got.Data[0])-want) > 1e-7*want {
			t.Errorf("dim %d: %v, want %v", dim, got.Data[0], want)
		}
	}
}

func TestGradChamferL2(t *testing.T) {
	for _, c := range []struct{ bs, n, m, dim int }{{2, 5, 7, 3}, {2, 6, 4, 4}, {1, 3, 3, 1}} {
		a, b := chamferSets(t, 7, c.bs, c.n, c.m, c.dim, 0.3)
		checkGrad(t, "ChamferL2", []*Tensor{a, b}, func(tp *Tape) *Tensor { return ChamferL2(tp, a, b) })
		// Only one side needing a gradient.
		b.needGrad, b.Grad = false, nil
		checkGrad(t, "ChamferL2 a only", []*Tensor{a}, func(tp *Tape) *Tensor { return ChamferL2(tp, a, b) })
		if b.Grad != nil {
			t.Errorf("b got a gradient it does not need")
		}
	}
}

// TestChamferL2Ties: a point equidistant from two points of the other set
// takes the lower index, for its distance and its gradient.
func TestChamferL2Ties(t *testing.T) {
	a := FromData([]float32{0, 0, 0}, 1, 1, 3)
	b := FromData([]float32{1, 0, 0, -1, 0, 0}, 1, 2, 3)
	a.SetRequiresGrad(true)
	b.SetRequiresGrad(true)
	tp := NewTape(true)
	out := ChamferL2(tp, a, b)
	tp.Backward(out)
	// dist1 = [1] (b0), dist2 = [1, 1]: 1 + 1; da = 2(a-b0) + ½·2(a-b0) +
	// ½·2(a-b1); db0 = 2(b0-a) + ½·2(b0-a); db1 = ½·2(b1-a).
	if out.Data[0] != 2 {
		t.Errorf("loss %v, want 2", out.Data[0])
	}
	if !slices.Equal(a.Grad, []float32{-2, 0, 0}) || !slices.Equal(b.Grad, []float32{3, 0, 0, -1, 0, 0}) {
		t.Errorf("da %v, db %v; want [-2 0 0], [3 0 0 -1 0 0]", a.Grad, b.Grad)
	}
}

// TestChamferL2NaN: a NaN coordinate makes the loss NaN.
func TestChamferL2NaN(t *testing.T) {
	a := FromData([]float32{0, 0, 1, 1}, 1, 2, 2)
	b := FromData([]float32{0, float32(math.NaN()), 1, 1, 5, 5}, 1, 3, 2)
	if v := ChamferL2(NewTape(false), a, b).Data[0]; !math.IsNaN(float64(v)) {
		t.Errorf("loss %v, want NaN", v)
	}
}

func TestChamferL2Shapes(t *testing.T) {
	for _, c := range []struct{ a, b []int }{
		{[]int{2, 3, 3}, []int{3, 3, 3}},
		{[]int{2, 3, 3}, []int{2, 3, 2}},
		{[]int{6, 3}, []int{6, 3}},
		{[]int{2, 0, 3}, []int{2, 4, 3}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ChamferL2 of %v and %v did not panic", c.a, c.b)
				}
			}()
			ChamferL2(NewTape(true), New(c.a...), New(c.b...))
		}()
	}
}

// TestChamferL2RepeatsAcrossCores: the loss and both gradients are the
// same bits whatever GOMAXPROCS, at a size split into many row ranges.
func TestChamferL2RepeatsAcrossCores(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	a, b := randT(r, 4, 300, 3), randT(r, 4, 500, 3)
	runs := withProcs(func() [][]float32 {
		a.Grad, b.Grad = nil, nil
		a.SetRequiresGrad(true)
		b.SetRequiresGrad(true)
		tp := NewTape(true)
		out := ChamferL2(tp, a, b)
		tp.Backward(out)
		return [][]float32{slices.Clone(out.Data), slices.Clone(a.Grad), slices.Clone(b.Grad)}
	})
	requireSame(t, []string{"loss", "da", "db"}, runs)
}
