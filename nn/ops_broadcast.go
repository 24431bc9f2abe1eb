package nn

import (
	"fmt"
	"github.com/pcx-dev/pcx/nn/blas"

	"github.com/pcx-dev/pcx/nn/cpu"
)

// RepeatRows tiles each row of an A×C tensor m times, giving A×m×C: the
// global feature of a point group broadcast to its points, or a 1×C token
// broadcast over a batch. Backward sums the copies.
func RepeatRows(tp *Tape, x *Tensor, m int) *Tensor {
	c := x.Dim(-1)
	a := x.Len() / c
	if d := x.dev; d != nil {
		return repeatRowsDev(tp, d, x, a, m, c)
	}
	out := tp.newOut([]int{a, m, c}, x)
	for i := 0; i < a; i++ {
		row := x.Data[i*c : (i+1)*c]
		for j := 0; j < m; j++ {
			copy(out.Data[(i*m+j)*c:(i*m+j+1)*c], row)
		}
	}
	tp.record(out, func() {
		g := x.grad()
		acc := make([]float64, c)
		for i := 0; i < a; i++ {
			clear(acc)
			for j := 0; j < m; j++ {
				for k, v := range out.Grad[(i*m+j)*c : (i*m+j+1)*c] {
					acc[k] += float64(v)
				}
			}
			cpu.AddRounded(g[i*c:(i+1)*c], acc)
		}
	})
	return out
}

// ConcatLast joins tensors with the same leading shape along the last
// (channel) axis; the result has the first tensor's leading shape.
func ConcatLast(tp *Tape, xs ...*Tensor) *Tensor {
	rows := xs[0].Len() / xs[0].Dim(-1)
	total := 0
	for _, x := range xs {
		if x.Len()/x.Dim(-1) != rows {
			panic(fmt.Sprintf("nn: ConcatLast of %v and %v", xs[0].Shape, x.Shape))
		}
		total += x.Dim(-1)
	}
	shape := append(append([]int(nil), xs[0].Shape[:len(xs[0].Shape)-1]...), total)
	if d := deviceOf(xs...); d != nil {
		return concatLastDev(tp, d, append([]*Tensor(nil), xs...), rows, total, shape)
	}
	out := tp.newOut(shape, xs...)
	off := 0
	for _, x := range xs {
		c := x.Dim(-1)
		for r := 0; r < rows; r++ {
			copy(out.Data[r*total+off:r*total+off+c], x.Data[r*c:(r+1)*c])
		}
		off += c
	}
	tp.record(out, func() {
		off := 0
		for _, x := range xs {
			c := x.Dim(-1)
			if x.needGrad {
				g := x.grad()
				for r := 0; r < rows; r++ {
					for k, v := range out.Grad[r*total+off : r*total+off+c] {
						g[r*c+k] += v
					}
				}
			}
			off += c
		}
	})
	return out
}

// ConcatRepeated is ConcatLast(tp, RepeatRows(tp, g, m), x) with the same
// values and gradients, without the repeated copy of g: g is A×Cg, x has
// A·m rows of Cx channels, and row r of the result is [g[r/m], x[r]] (the
// group's global feature beside each of its points' own, as PointNet's
// encoders join them).
func ConcatRepeated(tp *Tape, g, x *Tensor, m int) *Tensor {
	cg, cx := g.Dim(-1), x.Dim(-1)
	a := g.Len() / cg
	if m <= 0 || x.Len() != a*m*cx {
		panic(fmt.Sprintf("nn: ConcatRepeated of %v repeated %d times and %v", g.Shape, m, x.Shape))
	}
	if deviceOf(g, x) != nil {
		return ConcatLast(tp, RepeatRows(tp, g, m), x)
	}
	total := cg + cx
	shape := append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), total)
	out := tp.newOutRaw(shape, g, x) // every row is written whole
	parallelFor(a, max(1, 16384/(m*total)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := g.Data[i*cg : (i+1)*cg]
			for j := i * m; j < (i+1)*m; j++ {
				copy(out.Data[j*total:j*total+cg], row)
				copy(out.Data[j*total+cg:(j+1)*total], x.Data[j*cx:(j+1)*cx])
			}
		}
	})
	tp.record(out, func() {
		var gg, gx []float32
		if g.needGrad {
			gg = g.grad()
		}
		if x.needGrad {
			gx = x.grad()
		}
		parallelFor(a, max(1, 16384/(m*total)), func(lo, hi int) {
			acc := make([]float64, cg)
			for i := lo; i < hi; i++ {
				if gx != nil {
					for j := i * m; j < (i+1)*m; j++ {
						for k, v := range out.Grad[j*total+cg : (j+1)*total] {
							gx[j*cx+k] += v
						}
					}
				}
				if gg == nil {
					continue
				}
				clear(acc)
				for j := i * m; j < (i+1)*m; j++ {
					for k, v := range out.Grad[j*total : j*total+cg] {
						acc[k] += float64(v)
					}
				}
				cpu.AddRounded(gg[i*cg:(i+1)*cg], acc)
			}
		})
	})
	return out
}

// LinearConcatRepeated is Linear(tp, ConcatRepeated(tp, g, x, m), w, b): the
// layer that follows the concatenation of a PointNet encoder. On a tape
// that records nothing (a frozen encoder, inference) and on the CPU it never
// forms the concatenation: the product with g's part of the weight is taken
// once per group (over A rows, not A·m), added to the bias, copied to the
// group's m rows, and the product with x's part added to them. With the Go
// kernels the values are those of the concatenation's product bit for bit
// when its k blocks split at the join, as they do for Point-MAE's 256+256
// channels (TestLinearConcatRepeated); with other BLAS they agree to
// rounding. A recording tape, or a device, gets the two operations as
// they are.
func LinearConcatRepeated(tp *Tape, g, x *Tensor, m int, w, b *Param) *Tensor {
	cg, cx := g.Dim(-1), x.Dim(-1)
	a := g.Len() / cg
	wt, bt := w.T(), paramT(b)
	if tp.Records() || deviceOf(g, x, wt, bt) != nil || wt.Dim(-1) != cg+cx || m <= 0 || x.Len() != a*m*cx {
		cat := ConcatRepeated(tp, g, x, m)
		y := Linear(tp, cat, w, b)
		if !tp.Records() {
			tp.Discard(cat)
		}
		return y
	}
	in, out := cg+cx, wt.Dim(0)
	if wt.Len() != out*in {
		panic(fmt.Sprintf("nn: LinearConcatRepeated weight %v on inputs %v and %v", w.Shape, g.Shape, x.Shape))
	}
	// Per group: bias + g·Wgᵀ, as the concatenation's first k block adds it.
	gy := tp.newOutRaw([]int{a, out})
	if bt != nil {
		blas.SgemmBias(false, true, a, out, cg, 1, g.Data, cg, wt.Data, in, bt.Data, gy.Data, out)
	} else {
		blas.Sgemm(false, true, a, out, cg, 1, g.Data, cg, wt.Data, in, 0, gy.Data, out)
	}
	shape := append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), out)
	y := tp.newOutRaw(shape, g, x, wt, bt)
	parallelFor(a, max(1, 16384/(m*out)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := gy.Data[i*out : (i+1)*out]
			for j := i * m; j < (i+1)*m; j++ {
				copy(y.Data[j*out:(j+1)*out], row)
			}
		}
	})
	tp.Discard(gy)
	// Then x·Wxᵀ added, as its second k block adds it.
	blas.Sgemm(false, true, a*m, out, cx, 1, x.Data, cx, wt.Data[cg:], in, 1, y.Data, out)
	return y
}
