package fps

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2

// stepAVX2 runs the kernel over n points (n a multiple of 8), leaving in
// best and idx the per-lane largest running distance and its first index.
//
//go:noescape
func stepAVX2(x, y, z, d *float32, n int, cx, cy, cz float32, best *[8]float32, idx *[8]int32)

// stepVec is the AVX2 kernel; len(d) must be a multiple of 8.
func stepVec(x, y, z, d []float32, cx, cy, cz float32) (float32, int) {
	var best [8]float32
	var idx [8]int32
	stepAVX2(&x[0], &y[0], &z[0], &d[0], len(d), cx, cy, cz, &best, &idx)
	b, bi := best[0], idx[0]
	for l := 1; l < 8; l++ {
		if best[l] > b || (best[l] == b && idx[l] < bi) {
			b, bi = best[l], idx[l]
		}
	}
	if b < 0 {
		return b, 0
	}
	return b, int(bi)
}
