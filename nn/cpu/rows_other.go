//go:build !amd64 || purego

package cpu

const rowsVector = false

func maxRowsVec(out, x []float32, m, c int) bool                       { return false }
func addVec(out, a, b []float32) int                                   { return 0 }
func colSumsVec(sum []float64, x []float32, rows, ld, n int) int       { return 0 }
func colSqDevVec(sq, mean []float64, x []float32, rows, ld, n int) int { return 0 }
func affineRowVec(out, x []float32, mean, rstd, w, b []float64) int    { return 0 }

func scaleShiftBackVec(dx, d, x, g []float32, sdx, sdg []float64) int { return 0 }

func rowDots4Vec(x, y []float32, ld, c int, sum *[4]float64) int { return 0 }
func softmaxGradRowVec(d, y []float32, dot, scale float32) int   { return 0 }

func rowSums8Vec(x []float32, ld, c int, sum *[8]float64) bool            { return false }
func rowSqDev8Vec(x []float32, ld, c int, mean, sq *[8]float64) bool      { return false }
func normAffineRowVec(out, x []float32, m, s float32, w, b []float32) int { return 0 }

func lnBack4Vec(x, g []float32, c int, mean, rstd *[4]float32, w []float32, sums *[8]float64, pdw, pdb []float64) bool {
	return false
}
func lnBackDxVec(dx, x, g, w []float32, m, rs, mD, mDN float32) int { return 0 }
