package cpu

// Kernels over the rows of a rows×c matrix that keep each column's
// operations in row order (BatchNorm's statistics and normalisation, the
// maximum over a group's points), vectorised across columns where the CPU
// allows with the scalar loops' values bit for bit.

// MaxRows sets out[k] to the maximum of x[j·c+k] over the m rows j, the
// first row's value kept unless a later one compares greater (NaN never
// does; of equal zeros the first stays).
func MaxRows(out, x []float32, m, c int) {
	if maxRowsVec(out, x, m, c) {
		return
	}
	copy(out[:c], x[:c])
	for j := 1; j < m; j++ {
		for k, v := range x[j*c : (j+1)*c] {
			if v > out[k] {
				out[k] = v
			}
		}
	}
}

// ColSums adds float64(x[r·ld+k]) to sum[k-lo] for k in [lo, hi), over the
// rows in order.
func ColSums(sum []float64, x []float32, rows, ld, lo, hi int) {
	done := colSumsVec(sum, x[lo:], rows, ld, hi-lo)
	for r := 0; r < rows; r++ {
		for k, v := range x[r*ld+lo+done : r*ld+hi] {
			sum[done+k] += float64(v)
		}
	}
}

// ColSqDev adds d·d, d = float64(x[r·ld+k]) - mean[k-lo], to sq[k-lo] for k
// in [lo, hi), over the rows in order.
func ColSqDev(sq, mean []float64, x []float32, rows, ld, lo, hi int) {
	done := colSqDevVec(sq, mean, x[lo:], rows, ld, hi-lo)
	for r := 0; r < rows; r++ {
		for k, v := range x[r*ld+lo+done : r*ld+hi] {
			d := float64(v) - mean[done+k]
			sq[done+k] += d * d
		}
	}
}

// AffineRow sets out[k] = float32((float64(x[k]) - mean[k])·rstd[k]·w[k] +
// b[k]), in float64 and in that order.
func AffineRow(out, x []float32, mean, rstd, w, b []float64) {
	for k := affineRowVec(out, x, mean, rstd, w, b); k < len(x); k++ {
		out[k] = float32((float64(x[k])-mean[k])*rstd[k]*w[k] + b[k])
	}
}

// ScaleShiftBackRow is one row of SSF's backward: dx[k] += d[k]·g[k] (dx
// may be nil), sdx[k] += float64(d[k])·float64(x[k]), sdg[k] +=
// float64(d[k]).
func ScaleShiftBackRow(dx, d, x, g []float32, sdx, sdg []float64) {
	for k := scaleShiftBackVec(dx, d, x, g, sdx, sdg); k < len(d); k++ {
		v := d[k]
		if dx != nil {
			dx[k] += v * g[k]
		}
		sdx[k] += float64(v) * float64(x[k])
		sdg[k] += float64(v)
	}
}

// Add sets out[i] = a[i] + b[i], or out[i] = a[i] + 0 when b is nil (the
// value of adding a to a zeroed out, which turns -0 into +0); out may be a
// or b. Elementwise, so the vector kernel's values are the scalar loop's.
func Add(out, a, b []float32) {
	i := addVec(out, a, b)
	if b == nil {
		for ; i < len(a); i++ {
			out[i] = a[i] + 0
		}
		return
	}
	for ; i < len(a); i++ {
		out[i] = a[i] + b[i]
	}
}
