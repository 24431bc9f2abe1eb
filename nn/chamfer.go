package nn

import (
	"fmt"

	"github.com/pcx-dev/pcx/nn/cpu"
)

// ChamferL2 is the squared-L2 Chamfer distance between two batched sets of
// points, a (B×N×D) and b (B×M×D), any point dimension D:
//
//	dist1[i] = min_j |a_i − b_j|²,  dist2[j] = min_i |a_i − b_j|²
//
// within each batch element, and the result (shape [1]) is
// mean(dist1) + mean(dist2), the means over all B·N and B·M entries: the
// ChamferDistanceL2 of Point-MAE's pretraining loss (its chamfer_dist
// extension). The gradient flows to a and b through the nearest pairs:
// d dist1_i/d a_i = 2(a_i − b_nn(i)) and the opposite to b_nn(i), and
// likewise for dist2. Ties go to the lowest index, as the extension's
// kernel loop keeps the first minimum; a NaN distance counts as the
// smallest, so NaN inputs give a NaN loss.
//
// Each squared distance is formed in float64 from the float32 coordinates
// (so the nearest neighbours are those of the exact distances, up to
// float64 rounding), the means are summed in float64, and the result is
// rounded to float32 once; the CPU and CUDA forms compute the same
// distances and indices bit for bit. The CPU runs the O(B·N·M·D) searches
// in parallel over rows and gives the same bits whatever GOMAXPROCS.
func ChamferL2(tp *Tape, a, b *Tensor) *Tensor {
	if len(a.Shape) != 3 || len(b.Shape) != 3 || a.Dim(0) != b.Dim(0) || a.Dim(2) != b.Dim(2) {
		panic(fmt.Sprintf("nn: ChamferL2 of %v and %v (want B×N×D and B×M×D)", a.Shape, b.Shape))
	}
	bs, n, m, dim := a.Dim(0), a.Dim(1), b.Dim(1), a.Dim(2)
	if bs < 1 || n < 1 || m < 1 || dim < 1 {
		panic(fmt.Sprintf("nn: ChamferL2 of empty sets %v and %v", a.Shape, b.Shape))
	}
	if d := deviceOf(a, b); d != nil {
		return chamferL2Dev(tp, d, a, b, bs, n, m, dim)
	}
	dist1, dist2 := make([]float64, bs*n), make([]float64, bs*m)
	idx1, idx2 := make([]int32, bs*n), make([]int32, bs*m)
	cpu.ChamferNearest(dist1, idx1, a.Data, b.Data, bs, n, m, dim)
	cpu.ChamferNearest(dist2, idx2, b.Data, a.Data, bs, m, n, dim)
	out := tp.newOut([]int{1}, a, b)
	out.Data[0] = float32(sumInOrder(dist1)/float64(bs*n) + sumInOrder(dist2)/float64(bs*m))
	tp.record(out, func() {
		g := float64(out.Grad[0])
		c1, c2 := chamferScales(g, bs, n, m)
		if a.needGrad {
			cpu.ChamferBackward(a.grad(), a.Data, b.Data, idx1, idx2, bs, n, m, dim, c1, c2)
		}
		if b.needGrad {
			cpu.ChamferBackward(b.grad(), b.Data, a.Data, idx2, idx1, bs, m, n, dim, c2, c1)
		}
	})
	return out
}

// chamferScales are the coefficients of dist1's and dist2's terms in the
// gradient for an output gradient g: g/(B·N) and g/(B·M), as the CUDA
// backward forms them.
func chamferScales(g float64, bs, n, m int) (float64, float64) {
	return g * (1 / float64(bs*n)), g * (1 / float64(bs*m))
}

// sumInOrder is the float64 sum of v, in index order.
func sumInOrder(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func chamferL2Dev(tp *Tape, d Device, a, b *Tensor, bs, n, m, dim int) *Tensor {
	a, b = tp.toDev(d, a), tp.toDev(d, b)
	out := tp.newDevOut(d, []int{1}, a, b)
	// dist1 and dist2 are float64 (two 32-bit values each); idx1 and idx2
	// int32.
	dist1, dist2 := tp.dalloc(d, 2*bs*n), tp.dalloc(d, 2*bs*m)
	idx1, idx2 := tp.dalloc(d, bs*n), tp.dalloc(d, bs*m)
	d.ChamferL2(out.d, dist1, dist2, idx1, idx2, a.d, b.d, bs, n, m, dim)
	tp.record(out, func() {
		d.ChamferL2Backward(dgIf(a), dgIf(b), out.dgrad, a.d, b.d, idx1, idx2, bs, n, m, dim)
	})
	return out
}
