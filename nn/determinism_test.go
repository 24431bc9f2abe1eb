package nn

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// withProcs runs f under each of GOMAXPROCS 1, 2, 4 and 8 and returns
// its results.
func withProcs(f func() [][]float32) [][][]float32 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var out [][][]float32
	for _, n := range []int{1, 2, 4, 8} {
		runtime.GOMAXPROCS(n)
		out = append(out, f())
	}
	return out
}

// requireSame fails unless every run gave the same bits as the first.
func requireSame(t *testing.T, what []string, runs [][][]float32) {
	t.Helper()
	procs := []int{1, 2, 4, 8}
	for i, r := range runs[1:] {
		for j := range r {
			if !slices.Equal(r[j], runs[0][j]) {
				k := 0
				for k < len(r[j]) && r[j][k] == runs[0][j][k] {
					k++
				}
				t.Errorf("%s with GOMAXPROCS=%d differs from GOMAXPROCS=1 at %d: %v vs %v",
					what[j], procs[i+1], k, r[j][k], runs[0][j][k])
			}
		}
	}
}

// TestGradientsRepeatAcrossCores: the parameter gradients of the ops that
// sum over rows are the same bits whatever the number of cores, at a size
// (8192 rows of 64) that the kernels split into many chunks.
func TestGradientsRepeatAcrossCores(t *testing.T) {
	const rows, c = 8192, 64
	r := rand.New(rand.NewPCG(21, 22))
	x := randT(r, rows/64, 64, c)
	w, b := randP(r, "w", c), randP(r, "b", c)
	lw, lb := randP(r, "lw", 48, c), randP(r, "lb", 48)
	g, s := randP(r, "g", 48), randP(r, "s", 48)
	seed := randT(r, rows/64, 48)
	names := []string{"x", "ln.weight", "ln.bias", "linear.weight", "linear.bias", "ssf.gamma", "ssf.beta"}
	runs := withProcs(func() [][]float32 {
		ps := Params{w, b, lw, lb, g, s}
		ps.ZeroGrad()
		x.Grad = nil
		x.SetRequiresGrad(true)
		tp := NewTape(true)
		h := LayerNorm(tp, x, w, b, 1e-5)
		h = ScaleShift(tp, Linear(tp, h, lw, lb), g, s)
		m := MeanTokens(tp, GELU(tp, h, false))
		out := DotConst(tp, m, seed.Data)
		tp.Backward(out)
		res := [][]float32{x.Grad}
		for _, p := range ps {
			res = append(res, p.Grad)
		}
		for i := range res {
			res[i] = slices.Clone(res[i])
		}
		return res
	})
	requireSame(t, names, runs)
}
