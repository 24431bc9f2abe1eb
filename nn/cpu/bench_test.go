package cpu

import (
	"math/rand/v2"
	"testing"
)

// The element-wise kernels at the engine reference step's shapes (nn/enginebench):
// attention's softmax and its gradient over 32 samples × 6 heads × 65 rows
// of 65, one goroutine as attention runs each sample, and LayerNorm over
// 2080 rows of 384 on all cores.
//
//	go test ./nn/cpu -run '^$' -bench 'Softmax|LayerNorm'

func benchRows(rows, c int) []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, rows*c)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func BenchmarkSoftmaxRows(b *testing.B) {
	const rows, c = 32 * 6 * 65, 65
	x, out := benchRows(rows, c), make([]float32, rows*c)
	for b.Loop() {
		SoftmaxRowsSerial(out, x, 0, rows, c)
	}
}

func BenchmarkSoftmaxGradRows(b *testing.B) {
	const rows, c = 32 * 6 * 65, 65
	y, d := make([]float32, rows*c), benchRows(rows, c)
	SoftmaxRowsSerial(y, benchRows(rows, c), 0, rows, c)
	g := make([]float32, len(d))
	for b.Loop() {
		copy(g, d)
		SoftmaxGradRowsSerial(g, y, 0, rows, c, 0.125)
	}
}

func BenchmarkLayerNormForward(b *testing.B) {
	const rows, c = 2080, 384
	x, out := benchRows(rows, c), make([]float32, rows*c)
	w, bias := benchRows(1, c), benchRows(1, c)
	mean, rstd := make([]float32, rows), make([]float32, rows)
	for b.Loop() {
		LayerNormForward(out, mean, rstd, x, w, bias, rows, c, 1e-5)
	}
}
