//go:build !amd64 || purego

package cpu

// expVector is false: there is no vector exp on this platform.
const expVector = false

func expShiftedVec(out, x []float32, m float32) int { return 0 }

func softmax4Vec(out, x []float32, c int) bool { return false }
