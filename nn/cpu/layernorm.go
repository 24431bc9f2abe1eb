package cpu

import "math"

// LayerNormForward normalises each of rows rows of c values: out = (x-μ)/σ·w + b,
// σ = sqrt(var + eps) with the biased variance. mean and rstd (1/σ) are kept
// for backward. w and b may be nil (no affine).
func LayerNormForward(out, mean, rstd, x, w, b []float32, rows, c int, eps float32) {
	ParallelRows(rows, grainFor(c), func(lo, hi int) {
		r := lo
		// Eight rows at a time where the CPU allows: each row's sums in a
		// vector lane, in the scalar loop's order.
		for ; r+8 <= hi; r += 8 {
			var s, m, v2 [8]float64
			if !rowSums8Vec(x[r*c:], c, c, &s) {
				break
			}
			for l := range m {
				m[l] = s[l] / float64(c)
			}
			rowSqDev8Vec(x[r*c:], c, c, &m, &v2)
			for l := range m {
				layerNormRow(out, mean, rstd, x, w, b, r+l, c, eps, m[l], v2[l])
			}
		}
		for ; r < hi; r++ {
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
			layerNormRow(out, mean, rstd, x, w, b, r, c, eps, m, v2)
		}
	})
}

// layerNormRow normalises row r given its mean m and its sum of squared
// deviations v2.
func layerNormRow(out, mean, rstd, x, w, b []float32, r, c int, eps float32, m, v2 float64) {
	rs := 1 / math.Sqrt(v2/float64(c)+float64(eps))
	mean[r], rstd[r] = float32(m), float32(rs)
	xr, or := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
	fm, fr := float32(m), float32(rs)
	i := 0
	if w != nil && b != nil {
		i = normAffineRowVec(or, xr, fm, fr, w, b)
	}
	for ; i < c; i++ {
		n := (xr[i] - fm) * fr
		if w != nil {
			n *= w[i]
		}
		if b != nil {
			n += b[i]
		}
		or[i] = n
	}
}

// LayerNormBackward accumulates dx (when not nil), dw and db (when not nil)
// from dout. dw and db are sums over rows, taken with ReduceRows (float64,
// fixed chunks: the same bits whatever the number of cores).
func LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd []float32, rows, c int) {
	if dw == nil && db == nil {
		// A frozen LayerNorm: only the input's gradient, no column sums.
		if dx != nil {
			ParallelRows(rows, grainFor(c), func(lo, hi int) { layerNormBackRows(dx, dout, x, w, mean, rstd, lo, hi, c, nil, nil) })
		}
		return
	}
	s := ReduceRows(rows, c, 2, func(lo, hi int, acc [][]float64) {
		layerNormBackRows(dx, dout, x, w, mean, rstd, lo, hi, c, acc[0], acc[1])
	})
	if dw != nil {
		AddRounded(dw, s[0])
	}
	if db != nil {
		AddRounded(db, s[1])
	}
}

// layerNormBackRows is LayerNorm's backward over rows [lo, hi): the input's
// gradient into dx (when not nil), and, when pdw is not nil, the columns'
// sums of g·n and g into pdw and pdb.
func layerNormBackRows(dx, dout, x, w, mean, rstd []float32, lo, hi, c int, pdw, pdb []float64) {
	r := lo
	// Four rows at a time where the CPU allows (a weight, c a multiple
	// of 4): each row's sums in a vector lane, each column's in its
	// own, all in the row loop's order.
	for ; r+4 <= hi; r += 4 {
		var m4, rs4 [4]float32
		copy(m4[:], mean[r:r+4])
		copy(rs4[:], rstd[r:r+4])
		var sums [8]float64
		if !lnBack4Vec(x[r*c:], dout[r*c:], c, &m4, &rs4, w, &sums, pdw, pdb) {
			break
		}
		if dx != nil {
			for l := range 4 {
				layerNormBackDx(dx, x, dout, w, r+l, c, mean[r+l], rstd[r+l], sums[l], sums[4+l])
			}
		}
	}
	for ; r < hi; r++ {
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
			if pdw != nil {
				pdw[i] += float64(g * n)
				pdb[i] += float64(g)
			}
		}
		if dx != nil {
			layerNormBackDx(dx, x, dout, w, r, c, m, rs, sumD, sumDN)
		}
	}
}

// layerNormBackDx adds row r's input gradient to dx, given the row's sums
// of dnorm and dnorm·n.
func layerNormBackDx(dx, x, dout, w []float32, r, c int, m, rs float32, sumD, sumDN float64) {
	mD, mDN := float32(sumD/float64(c)), float32(sumDN/float64(c))
	xr, dr, dxr := x[r*c:(r+1)*c], dout[r*c:(r+1)*c], dx[r*c:(r+1)*c]
	for i := lnBackDxVec(dxr, xr, dr, w, m, rs, mD, mDN); i < c; i++ {
		n := (xr[i] - m) * rs
		dn := dr[i]
		if w != nil {
			dn *= w[i]
		}
		dxr[i] += rs * (dn - mD - n*mDN)
	}
}
