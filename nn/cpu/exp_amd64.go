//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// expVector reports whether expShiftedAVX2 runs on this CPU: it repeats the
// fused multiply-add path of Go's math.Exp, which math takes exactly when
// the CPU has AVX2 and FMA, so its results are math.Exp's bit for bit.
var expVector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expAVX512 selects expShiftedAVX512, the same on eight lanes (a variable,
// for the tests to compare the two).
var expAVX512 = expVector && cpu.X86.HasAVX512F

// expShiftedAVX2 writes out[i] = float32(math.Exp(float64(x[i]-m))) for i
// < n (a multiple of 4), stopping before the first four values where
// math.Exp leaves its common path, and returns how many it wrote.
//
//go:noescape
func expShiftedAVX2(out, x *float32, n int, m float32) int

// expShiftedAVX512 is expShiftedAVX2 eight at a time (n a multiple of 8).
//
//go:noescape
func expShiftedAVX512(out, x *float32, n int, m float32) int

// expShiftedVec writes out[i] = float32(math.Exp(float64(x[i]-m))) over a
// prefix of x and returns its length: the longest multiple of 4 before a
// value math.Exp takes out of its common path (an argument beyond ±700, or
// NaN). The caller computes the rest.
func expShiftedVec(out, x []float32, m float32) int {
	if n := len(x) &^ 7; expAVX512 && n > 0 {
		if k := expShiftedAVX512(&out[0], &x[0], n, m); k > 0 {
			return k
		}
	}
	n := len(x) &^ 3
	if !expVector || n == 0 {
		return 0
	}
	return expShiftedAVX2(&out[0], &x[0], n, m)
}

// softmax4AVX512 computes the softmax of four rows of c values ld apart as
// SoftmaxRowsSerial does, bit for bit, and reports true; where a row holds
// a NaN or a value farther than 700 below its maximum it writes nothing and
// reports false.
//
//go:noescape
func softmax4AVX512(out, x *float32, ld, c int) bool

// softmax4Vec runs softmax4AVX512 on rows of c values at out and x where
// the CPU has it, and reports whether it did.
func softmax4Vec(out, x []float32, c int) bool {
	if !expAVX512 || c == 0 {
		return false
	}
	_, _ = out[4*c-1], x[4*c-1]
	return softmax4AVX512(&out[0], &x[0], c, c)
}
