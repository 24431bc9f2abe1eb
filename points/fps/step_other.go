//go:build !amd64

package fps

const useAVX2 = false

func stepVec(x, y, z, d []float32, cx, cy, cz float32) (float32, int) {
	return stepGo(x, y, z, d, cx, cy, cz)
}
