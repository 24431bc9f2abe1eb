//go:build !amd64 || purego

package cpu

const rowsVector = false

func maxRowsVec(out, x []float32, m, c int) bool                       { return false }
func colSumsVec(sum []float64, x []float32, rows, ld, n int) int       { return 0 }
func colSqDevVec(sq, mean []float64, x []float32, rows, ld, n int) int { return 0 }
func affineRowVec(out, x []float32, mean, rstd, w, b []float64) int    { return 0 }

func scaleShiftBackVec(dx, d, x, g []float32, sdx, sdg []float64) int { return 0 }
