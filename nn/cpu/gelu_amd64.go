//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// geluVector reports whether the AVX2 kernels of gelu_amd64.s run on this
// CPU. They perform normCDF's and expf's float32 operations in the same order
// (multiplies and adds rounded one by one, no fused multiply-add), so they
// give the scalar code's results bit for bit.
var geluVector = cpu.X86.HasAVX2

// geluAVX512 reports whether the sixteen-lane kernels run instead: the same
// operations with AVX-512 (a variable, for the tests to compare the two).
var geluAVX512 = cpu.X86.HasAVX512F

// geluExactAVX2 writes out[i] = x[i]·Φ(x[i]) for i < n, n a multiple of 8.
//
//go:noescape
func geluExactAVX2(out, x *float32, n int, tab *[geluTabLen][8]float32)

// geluExactBackAVX2 adds dout[i]·(Φ(x[i]) + x[i]·φ(x[i])) to dx[i] for
// i < n, n a multiple of 8; to zero instead of dx[i], unread, when acc is
// false.
//
//go:noescape
func geluExactBackAVX2(dx, dout, x *float32, n int, tab *[geluTabLen][8]float32, acc bool)

// geluExactAVX512 is geluExactAVX2 on sixteen lanes, n a multiple of 16.
//
//go:noescape
func geluExactAVX512(out, x *float32, n int, tab *[geluTabLen][8]float32)

// geluExactBackAVX512 is geluExactBackAVX2 on sixteen lanes, n a multiple
// of 16.
//
//go:noescape
func geluExactBackAVX512(dx, dout, x *float32, n int, tab *[geluTabLen][8]float32, acc bool)

// geluExactVec runs the forward kernel over the longest prefix that is a
// multiple of its width (16 or 8) and returns its length.
func geluExactVec(out, x []float32) int {
	if n := len(x) &^ 15; geluAVX512 && n > 0 {
		geluExactAVX512(&out[0], &x[0], n, &geluTab)
		return n
	}
	n := len(x) &^ 7
	if !geluVector || n == 0 {
		return 0
	}
	geluExactAVX2(&out[0], &x[0], n, &geluTab)
	return n
}

// geluExactBackVec runs the backward kernel over the longest prefix that
// is a multiple of its width (16 or 8) and returns its length.
func geluExactBackVec(dx, dout, x []float32, acc bool) int {
	if n := len(x) &^ 15; geluAVX512 && n > 0 {
		geluExactBackAVX512(&dx[0], &dout[0], &x[0], n, &geluTab, acc)
		return n
	}
	n := len(x) &^ 7
	if !geluVector || n == 0 {
		return 0
	}
	geluExactBackAVX2(&dx[0], &dout[0], &x[0], n, &geluTab, acc)
	return n
}
