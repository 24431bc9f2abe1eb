package cpu

import "math"

// LayerNormForward normalises each of rows rows of c values: out = (x-μ)/σ·w + b,
// σ = sqrt(var + eps) with the biased variance. mean and rstd (1/σ) are kept
// for backward. w and b may be nil (no affine).
func LayerNormForward(out, mean, rstd, x, w, b []float32, rows, c int, eps float32) {
	ParallelRows(rows, grainFor(c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*c : (r+1)*c]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			m := s / float64(c)
			var v2 float64
			for _, v := range xr {
				d := float64(v) - m
				v2 += d * d
			}
			rs := 1 / math.Sqrt(v2/float64(c)+float64(eps))
			mean[r], rstd[r] = float32(m), float32(rs)
			or := out[r*c : (r+1)*c]
			fm, fr := float32(m), float32(rs)
			for i, v := range xr {
				n := (v - fm) * fr
				if w != nil {
					n *= w[i]
				}
				if b != nil {
					n += b[i]
				}
				or[i] = n
			}
		}
	})
}

// LayerNormBackward accumulates dx (when not nil), dw and db (when not nil)
// from dout. dw and db are summed over rows; rows are split across
// goroutines with private partial sums.
func LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd []float32, rows, c int) {
	type partial struct{ dw, db []float64 }
	var mu chanLock
	ParallelRows(rows, grainFor(c), func(lo, hi int) {
		var p partial
		if dw != nil {
			p.dw = make([]float64, c)
		}
		if db != nil {
			p.db = make([]float64, c)
		}
		for r := lo; r < hi; r++ {
			xr, dr := x[r*c:(r+1)*c], dout[r*c:(r+1)*c]
			m, rs := mean[r], rstd[r]
			// dnorm = dout·w; dx = rstd·(dnorm - mean(dnorm) - n·mean(dnorm·n))
			var sumD, sumDN float64
			for i, g := range dr {
				n := (xr[i] - m) * rs
				dn := g
				if w != nil {
					dn *= w[i]
				}
				sumD += float64(dn)
				sumDN += float64(dn * n)
				if p.dw != nil {
					p.dw[i] += float64(g * n)
				}
				if p.db != nil {
					p.db[i] += float64(g)
				}
			}
			if dx == nil {
				continue
			}
			mD, mDN := float32(sumD/float64(c)), float32(sumDN/float64(c))
			dxr := dx[r*c : (r+1)*c]
			for i, g := range dr {
				n := (xr[i] - m) * rs
				dn := g
				if w != nil {
					dn *= w[i]
				}
				dxr[i] += rs * (dn - mD - n*mDN)
			}
		}
		mu.lock()
		for i := range p.dw {
			dw[i] += float32(p.dw[i])
		}
		for i := range p.db {
			db[i] += float32(p.db[i])
		}
		mu.unlock()
	})
}
