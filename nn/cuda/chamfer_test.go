package cuda

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/nn/cpu"
)

// TestEmuChamferL2 runs ChamferL2 and its backward on the emulator and
// compares with nn/cpu's Chamfer kernels: the nearest distances and indices
// and both gradients bit for bit, the loss (summed in another order) within
// a float32 rounding. The shapes cover Point-MAE's 3-D groups, a set larger
// than one shared tile (1024 points of 3), more than one block per batch
// element, other dimensions and one too large for the tile (read from
// global memory), and exact ties (duplicated points).
func TestEmuChamferL2(t *testing.T) {
	d := emuDevice(t)
	s := d.Stream()
	for _, c := range []struct{ batch, n, m, dim int }{
		{3, 32, 32, 3}, {2, 300, 1100, 3}, {2, 9, 40, 5}, {1, 4, 3, 3100}, {2, 130, 7, 1},
	} {
		r := rand.New(rand.NewPCG(uint64(c.n), uint64(c.dim)))
		na, nb := c.batch*c.n*c.dim, c.batch*c.m*c.dim
		a, b := make([]float32, na), make([]float32, nb)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		// Exact ties in the first batch element: b's first two points and
		// a's first and last are the same point.
		copy(b[c.dim:2*c.dim], b[:c.dim])
		copy(a[:c.dim], b[:c.dim])
		copy(a[(c.n-1)*c.dim:c.n*c.dim], b[:c.dim])
		bn, bm := c.batch*c.n, c.batch*c.m
		dist1, dist2 := make([]float64, bn), make([]float64, bm)
		idx1, idx2 := make([]int32, bn), make([]int32, bm)
		cpu.ChamferNearest(dist1, idx1, a, b, c.batch, c.n, c.m, c.dim)
		cpu.ChamferNearest(dist2, idx2, b, a, c.batch, c.m, c.n, c.dim)
		var s1, s2 float64
		for _, v := range dist1 {
			s1 += v
		}
		for _, v := range dist2 {
			s2 += v
		}
		loss := s1/float64(bn) + s2/float64(bm)
		const g = 0.75
		da, db := make([]float32, na), make([]float32, nb)
		cq, cr := g*(1/float64(bn)), g*(1/float64(bm))
		cpu.ChamferBackward(da, a, b, idx1, idx2, c.batch, c.n, c.m, c.dim, cq, cr)
		cpu.ChamferBackward(db, b, a, idx2, idx1, c.batch, c.m, c.n, c.dim, cr, cq)

		up := func(v []float32) *Buffer {
			buf, err := s.Alloc(len(v))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Upload(buf, v); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { buf.Free() })
			return buf
		}
		alloc := func(n int) *Buffer { return up(make([]float32, n)) }
		ga, gb, out, gout := up(a), up(b), alloc(1), up([]float32{g})
		gd1, gd2, gi1, gi2 := alloc(2*bn), alloc(2*bm), alloc(bn), alloc(bm)
		gda, gdb := alloc(na), alloc(nb)
		if err := s.ChamferL2(out, gd1, gd2, gi1, gi2, ga, gb, c.batch, c.n, c.m, c.dim); err != nil {
			t.Fatal(err)
		}
		if err := s.ChamferL2Backward(gda, gdb, gout, ga, gb, gi1, gi2, c.batch, c.n, c.m, c.dim); err != nil {
			t.Fatal(err)
		}
		down := func(b *Buffer, n int) []float32 {
			v := make([]float32, n)
			if err := s.Download(v, b); err != nil {
				t.Fatal(err)
			}
			return v
		}
		downI := func(b *Buffer, n int) []int32 {
			v := make([]int32, n)
			if err := s.DownloadInt32(v, b); err != nil {
				t.Fatal(err)
			}
			return v
		}
		f64 := func(v []float32) []float64 {
			out := make([]float64, len(v)/2)
			for i := range out {
				out[i] = math.Float64frombits(uint64(math.Float32bits(v[2*i])) | uint64(math.Float32bits(v[2*i+1]))<<32)
			}
			return out
		}
		if got := f64(down(gd1, 2*bn)); !slices.Equal(got, dist1) {
			t.Errorf("%v: dist1 differs", c)
		}
		if got := f64(down(gd2, 2*bm)); !slices.Equal(got, dist2) {
			t.Errorf("%v: dist2 differs", c)
		}
		if got := downI(gi1, bn); !slices.Equal(got, idx1) {
			t.Errorf("%v: idx1 differs", c)
		}
		if got := downI(gi2, bm); !slices.Equal(got, idx2) {
			t.Errorf("%v: idx2 differs", c)
		}
		if got := down(out, 1)[0]; math.Abs(float64(got)-loss) > 1e-7*loss {
			t.Errorf("%v: loss %v, want %v", c, got, loss)
		}
		if got := down(gda, na); !slices.Equal(got, da) {
			t.Errorf("%v: da differs", c)
		}
		if got := down(gdb, nb); !slices.Equal(got, db) {
			t.Errorf("%v: db differs", c)
		}
		// The ties go to the lowest index.
		if idx1[0] != 0 || idx1[c.n-1] != 0 || idx2[0] != 0 || idx2[1] != 0 || dist1[0] != 0 || dist2[1] != 0 {
			t.Errorf("%v: ties: idx1 %d, %d, idx2 %d, %d (want 0), dist1 %v, dist2 %v (want 0)", c, idx1[0], idx1[c.n-1], idx2[0], idx2[1], dist1[0], dist2[1])
		}
	}
}
