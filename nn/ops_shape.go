package nn

import (
	"fmt"
	"math"

	"github.com/pcx-dev/pcx/nn/cpu"
)

// MaxMiddle takes the maximum over the middle axis of an A×M×C tensor,
// giving A×C: the max over the points of each group (B·G×M×C) or over the
// tokens of each sequence (B×T×C). The gradient goes to the first maximum.
func MaxMiddle(tp *Tape, x *Tensor, a, m, c int) *Tensor {
	if a*m*c != x.Len() || m == 0 {
		panic(fmt.Sprintf("nn: MaxMiddle %d×%d×%d of %v", a, m, c, x.Shape))
	}
	if d := x.dev; d != nil {
		return maxMiddleDev(tp, d, x, a, m, c)
	}
	out := tp.newOutRaw([]int{a, c}, x) // each row starts as a copy of the group's first
	if !tp.Records() {                  // no backward, so no arg-max to keep
		parallelFor(a, max(1, 4096/(m*c+1)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				cpu.MaxRows(out.Data[i*c:(i+1)*c], x.Data[i*m*c:(i+1)*m*c], m, c)
			}
		})
		return out
	}
	arg := make([]int32, a*c)
	parallelFor(a, max(1, 4096/(m*c+1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out.Data[i*c : (i+1)*c]
			ar := arg[i*c : (i+1)*c]
			copy(o, x.Data[i*m*c:i*m*c+c])
			for j := 1; j < m; j++ {
				row := x.Data[(i*m+j)*c : (i*m+j+1)*c]
				for k, v := range row {
					if v > o[k] {
						o[k], ar[k] = v, int32(j)
					}
				}
			}
		}
	})
	tp.record(out, func() {
		g := x.grad()
		parallelFor(a, max(1, 4096/(c+1)), func(lo, hi int) { // each group's rows are its own
			for i := lo; i < hi; i++ {
				for k := 0; k < c; k++ {
					g[(i*m+int(arg[i*c+k]))*c+k] += out.Grad[i*c+k]
				}
			}
		})
	})
	return out
}

// ConcatTokens joins B×Tᵢ×C tensors along the token axis.
func ConcatTokens(tp *Tape, xs ...*Tensor) *Tensor {
	b, c := xs[0].Dim(0), xs[0].Dim(2)
	t := 0
	for _, x := range xs {
		if x.Dim(0) != b || x.Dim(2) != c || len(x.Shape) != 3 {
			panic(fmt.Sprintf("nn: ConcatTokens of %v and %v", xs[0].Shape, x.Shape))
		}
		t += x.Dim(1)
	}
	if d := deviceOf(xs...); d != nil {
		return concatTokensDev(tp, d, append([]*Tensor(nil), xs...), b, t, c)
	}
	out := tp.newOutRaw([]int{b, t, c}, xs...) // the parts fill every token
	copyTokens := func(back bool) {
		for i := 0; i < b; i++ {
			off := 0
			for _, x := range xs {
				n := x.Dim(1) * c
				if !back { // backward reads no values, so parts may be discarded
					copy(out.Data[(i*t)*c+off:(i*t)*c+off+n], x.Data[i*n:(i+1)*n])
				} else if x.needGrad {
					g := x.grad()[i*n : (i+1)*n]
					for k, v := range out.Grad[(i*t)*c+off : (i*t)*c+off+n] {
						g[k] += v
					}
				}
				off += n
			}
		}
	}
	copyTokens(false)
	tp.record(out, func() { copyTokens(true) })
	return out
}

// SliceTokens returns tokens lo..hi-1 of a B×T×C tensor.
func SliceTokens(tp *Tape, x *Tensor, lo, hi int) *Tensor {
	b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	if lo < 0 || hi > t || lo >= hi {
		panic(fmt.Sprintf("nn: SliceTokens [%d, %d) of %v", lo, hi, x.Shape))
	}
	if x.dev != nil {
		return sliceTokensDev(tp, x.dev, x, lo, hi)
	}
	n := hi - lo
	out := tp.newOut([]int{b, n, c}, x)
	for i := 0; i < b; i++ {
		copy(out.Data[i*n*c:(i+1)*n*c], x.Data[(i*t+lo)*c:(i*t+hi)*c])
	}
	tp.record(out, func() {
		g := x.grad()
		for i := 0; i < b; i++ {
			dst := g[(i*t+lo)*c : (i*t+hi)*c]
			for k, v := range out.Grad[i*n*c : (i+1)*n*c] {
				dst[k] += v
			}
		}
	})
	return out
}

// ScaleShift is the per-channel affine x·γ + β over the last axis (SSF).
// beta may be nil.
func ScaleShift(tp *Tape, x *Tensor, gamma, beta *Param) *Tensor {
	c := x.Dim(-1)
	gt, bt := paramT(gamma), paramT(beta)
	if d := deviceOf(x, gt, bt); d != nil {
		return scaleShiftDev(tp, d, x, gt, bt)
	}
	out := tp.newOutRaw(x.Shape, x, gt, bt)
	rows := x.Len() / c
	parallelFor(rows, max(1, 16384/max(c, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := x.Data[r*c:(r+1)*c], out.Data[r*c:(r+1)*c]
			for k, v := range xr {
				o := v * gt.Data[k]
				if bt != nil {
					o += bt.Data[k]
				}
				or[k] = o
			}
		}
	})
	tp.record(out, func() {
		dx, dg, db := gradIf(x), gradIf(gt), gradIf(bt)
		s := cpu.ReduceRows(rows, c, 2, func(lo, hi int, acc [][]float64) {
			for r := lo; r < hi; r++ {
				var dxr []float32
				if dx != nil {
					dxr = dx[r*c : (r+1)*c]
				}
				cpu.ScaleShiftBackRow(dxr, out.Grad[r*c:(r+1)*c], x.Data[r*c:(r+1)*c], gt.Data, acc[0], acc[1])
			}
		})
		if dg != nil {
			cpu.AddRounded(dg, s[0])
		}
		if db != nil {
			cpu.AddRounded(db, s[1])
		}
	})
	return out
}

// RowScale multiplies each row of x (rows×C, any leading shape) by the
// matching scalar of s (one per row): the dynamic adapter's per-token scale.
func RowScale(tp *Tape, x, s *Tensor) *Tensor {
	c := x.Dim(-1)
	rows := x.Len() / c
	if s.Len() != rows {
		panic(fmt.Sprintf("nn: RowScale of %v by %v", x.Shape, s.Shape))
	}
	if d := deviceOf(x, s); d != nil {
		return rowScaleDev(tp, d, x, s, rows, c)
	}
	out := tp.newOutRaw(x.Shape, x, s)
	// Rows are independent, so splitting them across cores changes no
	// value.
	parallelFor(rows, max(1, 16384/max(c, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			sr := s.Data[r]
			for k, v := range x.Data[r*c : (r+1)*c] {
				out.Data[r*c+k] = v * sr
			}
		}
	})
	tp.record(out, func() {
		dx, ds := gradIf(x), gradIf(s)
		parallelFor(rows, max(1, 16384/max(c, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				var acc float64
				for k := 0; k < c; k++ {
					d := out.Grad[r*c+k]
					if dx != nil {
						dx[r*c+k] += d * s.Data[r]
					}
					acc += float64(d) * float64(x.Data[r*c+k])
				}
				if ds != nil {
					ds[r] += float32(acc)
				}
			}
		})
	})
	return out
}

// L2Normalize divides each row over the last axis by max(‖row‖₂, eps), as
// torch.nn.functional.normalize.
func L2Normalize(tp *Tape, x *Tensor, eps float32) *Tensor {
	c := x.Dim(-1)
	rows := x.Len() / c
	if d := x.dev; d != nil {
		return l2NormalizeDev(tp, d, x, rows, c, eps)
	}
	out := tp.newOut(x.Shape, x)
	norm := make([]float32, rows)
	for r := 0; r < rows; r++ {
		var s float64
		for _, v := range x.Data[r*c : (r+1)*c] {
			s += float64(v) * float64(v)
		}
		norm[r] = float32(math.Sqrt(s))
		d := max(norm[r], eps)
		for k := 0; k < c; k++ {
			out.Data[r*c+k] = x.Data[r*c+k] / d
		}
	}
	tp.record(out, func() {
		g := x.grad()
		for r := 0; r < rows; r++ {
			d := out.Grad[r*c : (r+1)*c]
			if norm[r] <= eps { // constant divisor
				for k, v := range d {
					g[r*c+k] += v / eps
				}
				continue
			}
			// y = x/n: dx = (d - y·(y·d)) / n
			y := out.Data[r*c : (r+1)*c]
			dot := cpu.Dot(d, y)
			for k, v := range d {
				g[r*c+k] += (v - y[k]*dot) / norm[r]
			}
		}
	})
	return out
}
