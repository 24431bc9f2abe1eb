//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// rowsVector reports whether the AVX2 kernels of rows_amd64.s run on this
// CPU. They perform the scalar loops' operations per element in the same
// order, each rounded as there, so their results are the scalar code's bit
// for bit.
var rowsVector = cpu.X86.HasAVX2

//go:noescape
func maxRowsAVX(out, x *float32, m, c int)

//go:noescape
func addAVX(out, a, b *float32, n int, zero bool)

// addVec runs addAVX over the first multiple of 32 of the values (b nil:
// adding zero) and returns how many.
func addVec(out, a, b []float32) int {
	n := len(a) &^ 31
	if !rowsVector || n == 0 {
		return 0
	}
	_ = out[n-1]
	if b == nil {
		addAVX(&out[0], &a[0], nil, n, true)
		return n
	}
	_ = b[n-1]
	addAVX(&out[0], &a[0], &b[0], n, false)
	return n
}

//go:noescape
func colSumsAVX(sum *float64, x *float32, rows, ld, n int)

//go:noescape
func colSqDevAVX(sq, mean *float64, x *float32, rows, ld, n int)

//go:noescape
func affineRowAVX(out, x *float32, mean, rstd, w, b *float64, n int)

//go:noescape
func scaleShiftBackAVX(dx, d, x, gamma *float32, sdx, sdg *float64, n int, wantDx int)

// scaleShiftBackVec runs scaleShiftBackAVX over the first multiple of 4 of
// the row's values and returns how many.
func scaleShiftBackVec(dx, d, x, g []float32, sdx, sdg []float64) int {
	n := len(d) &^ 3
	if !rowsVector || n == 0 {
		return 0
	}
	_, _, _ = x[n-1], g[n-1], sdx[n-1]
	_ = sdg[n-1]
	want, pdx := 0, &d[0] // pdx is not written when want is 0
	if dx != nil {
		_ = dx[n-1]
		want, pdx = 1, &dx[0]
	}
	scaleShiftBackAVX(pdx, &d[0], &x[0], &g[0], &sdx[0], &sdg[0], n, want)
	return n
}

// maxRowsVec runs maxRowsAVX when c is a multiple of 8 and says whether it
// did.
func maxRowsVec(out, x []float32, m, c int) bool {
	if !rowsVector || c%8 != 0 || c == 0 || m == 0 {
		return false
	}
	_ = x[m*c-1]
	_ = out[c-1]
	maxRowsAVX(&out[0], &x[0], m, c)
	return true
}

// colSumsVec runs colSumsAVX over the first multiple of 16 of n channels
// and returns how many.
func colSumsVec(sum []float64, x []float32, rows, ld, n int) int {
	n &^= 15
	if !rowsVector || n == 0 || rows == 0 {
		return 0
	}
	_ = x[(rows-1)*ld+n-1]
	_ = sum[n-1]
	colSumsAVX(&sum[0], &x[0], rows, ld, n)
	return n
}

// colSqDevVec runs colSqDevAVX over the first multiple of 16 of n channels
// and returns how many.
func colSqDevVec(sq, mean []float64, x []float32, rows, ld, n int) int {
	n &^= 15
	if !rowsVector || n == 0 || rows == 0 {
		return 0
	}
	_ = x[(rows-1)*ld+n-1]
	_, _ = sq[n-1], mean[n-1]
	colSqDevAVX(&sq[0], &mean[0], &x[0], rows, ld, n)
	return n
}

// affineRowVec runs affineRowAVX over the first multiple of 4 of the row's
// values and returns how many.
func affineRowVec(out, x []float32, mean, rstd, w, b []float64) int {
	n := len(x) &^ 3
	if !rowsVector || n == 0 {
		return 0
	}
	_, _ = out[n-1], mean[n-1]
	_, _, _ = rstd[n-1], w[n-1], b[n-1]
	affineRowAVX(&out[0], &x[0], &mean[0], &rstd[0], &w[0], &b[0], n)
	return n
}

//go:noescape
func rowSums8AVX(x *float32, ld, c int, sum *[8]float64)

//go:noescape
func rowSqDev8AVX(x *float32, ld, c int, mean, sq *[8]float64)

//go:noescape
func normAffineRowAVX(out, x *float32, n int, m, s float32, w, b *float32)

//go:noescape
func rowDots4AVX(x, y *float32, ld, c int, sum *[4]float64)

// rowDots4Vec adds to sum[l] the products x[l·ld+i]·y[l·ld+i] of the four
// rows l over the longest prefix i < n of c that is a multiple of 4, in
// float64 and in order as Dot adds them, and returns n (0 where the CPU
// lacks the kernel). sum must be zero: the kernel starts from +0.
func rowDots4Vec(x, y []float32, ld, c int, sum *[4]float64) int {
	n := c &^ 3
	if !rowsVector || n == 0 {
		return 0
	}
	_, _ = x[3*ld+n-1], y[3*ld+n-1]
	rowDots4AVX(&x[0], &y[0], ld, n, sum)
	return n
}

//go:noescape
func softmaxGradRowAVX(d, y *float32, n int, dot, scale float32)

// softmaxGradRowVec runs softmaxGradRowAVX over the first multiple of 8 of
// the row's values and returns how many.
func softmaxGradRowVec(d, y []float32, dot, scale float32) int {
	n := len(y) &^ 7
	if !rowsVector || n == 0 {
		return 0
	}
	_ = d[n-1]
	softmaxGradRowAVX(&d[0], &y[0], n, dot, scale)
	return n
}

// rowSums8Vec computes eight rows' sums (and, after mean, rowSqDev8Vec
// their squared deviations) with the AVX2 kernels when c is a multiple of
// 4; it says whether it did.
func rowSums8Vec(x []float32, ld, c int, sum *[8]float64) bool {
	if !rowsVector || c%4 != 0 || c == 0 {
		return false
	}
	_ = x[7*ld+c-1]
	rowSums8AVX(&x[0], ld, c, sum)
	return true
}

func rowSqDev8Vec(x []float32, ld, c int, mean, sq *[8]float64) bool {
	if !rowsVector || c%4 != 0 || c == 0 {
		return false
	}
	_ = x[7*ld+c-1]
	rowSqDev8AVX(&x[0], ld, c, mean, sq)
	return true
}

// normAffineRowVec runs normAffineRowAVX over the first multiple of 8 of
// the row's values and returns how many.
func normAffineRowVec(out, x []float32, m, s float32, w, b []float32) int {
	n := len(x) &^ 7
	if !rowsVector || n == 0 {
		return 0
	}
	_, _, _ = out[n-1], w[n-1], b[n-1]
	normAffineRowAVX(&out[0], &x[0], n, m, s, &w[0], &b[0])
	return n
}

//go:noescape
func lnBack4AVX(x, gr *float32, ld, c int, mean, rstd *[4]float32, w *float32, sums *[8]float64, pdw, pdb *float64)

//go:noescape
func lnBackDxAVX(dx, x, gr, w *float32, n int, m, rs, mD, mDN float32)

// lnBack4Vec runs lnBack4AVX for the four rows at x and g when c is a
// multiple of 4 and there is a weight; it says whether it did.
func lnBack4Vec(x, g []float32, c int, mean, rstd *[4]float32, w []float32, sums *[8]float64, pdw, pdb []float64) bool {
	if !rowsVector || c%4 != 0 || c == 0 || w == nil {
		return false
	}
	_, _ = x[4*c-1], g[4*c-1]
	_ = w[c-1]
	if pdw == nil { // no column sums
		lnBack4AVX(&x[0], &g[0], c, c, mean, rstd, &w[0], sums, nil, nil)
		return true
	}
	_, _ = pdw[c-1], pdb[c-1]
	lnBack4AVX(&x[0], &g[0], c, c, mean, rstd, &w[0], sums, &pdw[0], &pdb[0])
	return true
}

// lnBackDxVec runs lnBackDxAVX over the first multiple of 8 of the row's
// values and returns how many.
func lnBackDxVec(dx, x, g, w []float32, m, rs, mD, mDN float32) int {
	n := len(x) &^ 7
	if !rowsVector || n == 0 || w == nil {
		return 0
	}
	_, _, _ = dx[n-1], g[n-1], w[n-1]
	lnBackDxAVX(&dx[0], &x[0], &g[0], &w[0], n, m, rs, mD, mDN)
	return n
}
