package cpu

import "math"

// GELUForward applies GELU: exact (x·Φ(x), with erf) or, when tanh is set,
// the tanh approximation.
func GELUForward(out, x []float32, tanh bool) {
	ParallelRows(len(x), 16384, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			if tanh {
				out[i] = float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
			} else {
				out[i] = float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
			}
		}
	})
}

// GELUBackward accumulates dx += dout·GELU'(x).
func GELUBackward(dx, dout, x []float32, tanh bool) {
	ParallelRows(len(x), 16384, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			var d float64
			if tanh {
				const k = 0.7978845608028654 // sqrt(2/π)
				u := k * (v + 0.044715*v*v*v)
				t := math.Tanh(u)
				d = 0.5*(1+t) + 0.5*v*(1-t*t)*k*(1+3*0.044715*v*v)
			} else {
				d = 0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-0.5*v*v)/math.Sqrt(2*math.Pi)
			}
			dx[i] += float32(d) * dout[i]
		}
	})
}

// ReLUForward applies max(x, 0).
func ReLUForward(out, x []float32) {
	for i, v := range x {
		out[i] = max(v, 0)
	}
}

// ReLUBackward accumulates dx += dout where the output was positive.
func ReLUBackward(dx, dout, out []float32) {
	for i, v := range out {
		if v > 0 {
			dx[i] += dout[i]
		}
	}
}

// SoftmaxRows writes the softmax of each row of c values.
func SoftmaxRows(out, x []float32, rows, c int) {
	ParallelRows(rows, grainFor(c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
			m := float32(math.Inf(-1))
			for _, v := range xr {
				m = max(m, v)
			}
			var s float32
			for i, v := range xr {
				e := float32(math.Exp(float64(v - m)))
				or[i] = e
				s += e
			}
			inv := 1 / s
			for i := range or {
				or[i] *= inv
			}
		}
	})
}

// SoftmaxRowsBackward accumulates dx += y·(dy - Σ dy·y) per row.
func SoftmaxRowsBackward(dx, dy, y []float32, rows, c int) {
	ParallelRows(rows, grainFor(c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, dr, xr := y[r*c:(r+1)*c], dy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
			var dot float32
			for i, v := range yr {
				dot += v * dr[i]
			}
			for i, v := range yr {
				xr[i] += v * (dr[i] - dot)
			}
		}
	})
}
