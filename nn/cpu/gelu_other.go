//go:build !amd64 || purego

package cpu

// geluVector is false: there are no vector kernels on this platform.
const geluVector = false

func geluExactVec(out, x []float32) int                    { return 0 }
func geluExactBackVec(dx, dout, x []float32, acc bool) int { return 0 }
