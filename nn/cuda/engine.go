package cuda

import (
	"fmt"
	"math"

	"github.com/pcx-dev/pcx/nn"
)

// Engine runs package nn's operations on a GPU: it implements nn.Device
// with the kernels of this package, queued in order on one stream, and
// memory from the device's caching allocator. Errors panic as
// *nn.DeviceError (nn's operations have no error returns).
type Engine struct {
	dev *Device
	s   *Stream
}

// NewEngine returns the engine of d, running on d's default stream.
func NewEngine(d *Device) *Engine { return &Engine{dev: d, s: d.Stream()} }

// Device is the engine's GPU.
func (e *Engine) Device() *Device { return e.dev }

// Stream is the stream the engine queues its work on.
func (e *Engine) Stream() *Stream { return e.s }

// String describes the GPU.
func (e *Engine) String() string { return "cuda: " + e.dev.String() }

// Synchronize waits for the queued work (and reports a fault in it).
func (e *Engine) Synchronize() { e.must(e.s.Synchronize()) }

func (e *Engine) must(err error) {
	if err != nil {
		panic(&nn.DeviceError{Err: err})
	}
}

// cb converts nn's handle to a buffer (nil stays nil).
func cb(b nn.DeviceBuffer) *Buffer {
	if b == nil {
		return nil
	}
	buf, ok := b.(*Buffer)
	if !ok {
		panic(&nn.DeviceError{Err: fmt.Errorf("cuda: a %T is not a CUDA buffer", b)})
	}
	return buf
}

// Alloc implements nn.Device.
func (e *Engine) Alloc(n int) nn.DeviceBuffer {
	b, err := e.s.Alloc(n)
	e.must(err)
	e.must(e.s.Zero(b))
	return b
}

// Free implements nn.Device.
func (e *Engine) Free(b nn.DeviceBuffer) { e.must(cb(b).Free()) }

// Upload implements nn.Device.
func (e *Engine) Upload(dst nn.DeviceBuffer, src []float32) { e.must(e.s.Upload(cb(dst), src)) }

// UploadInt32 implements nn.Device.
func (e *Engine) UploadInt32(dst nn.DeviceBuffer, src []int32) { e.must(e.s.UploadInt32(cb(dst), src)) }

// Download implements nn.Device.
func (e *Engine) Download(dst []float32, src nn.DeviceBuffer) { e.must(e.s.Download(dst, cb(src))) }

// Zero implements nn.Device.
func (e *Engine) Zero(b nn.DeviceBuffer) { e.must(e.s.Zero(cb(b))) }

// Fill implements nn.Device.
func (e *Engine) Fill(b nn.DeviceBuffer, v float32) { e.must(e.s.Fill(cb(b), v)) }

// Copy implements nn.Device.
func (e *Engine) Copy(dst, src nn.DeviceBuffer) { e.must(e.s.Copy(cb(dst), cb(src))) }

// Gemm implements nn.Device.
func (e *Engine) Gemm(ta, tb bool, m, n, k int, alpha float32, a nn.DeviceBuffer, lda int, b nn.DeviceBuffer, ldb int, beta float32, c nn.DeviceBuffer, ldc int) {
	e.must(e.s.Gemm(GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: k, Alpha: alpha, Beta: beta,
		A: cb(a), B: cb(b), C: cb(c), Lda: lda, Ldb: ldb, Ldc: ldc}))
}

// BiasRows implements nn.Device.
func (e *Engine) BiasRows(out, b nn.DeviceBuffer, rows, c int) {
	e.must(e.s.BiasRows(cb(out), cb(b), rows, c))
}

// ColSum implements nn.Device.
func (e *Engine) ColSum(db, dy nn.DeviceBuffer, rows, c int) {
	e.must(e.s.ColSum(cb(db), cb(dy), rows, c))
}

// Add implements nn.Device.
func (e *Engine) Add(out, a, b nn.DeviceBuffer) { e.must(e.s.Add(cb(out), cb(a), cb(b))) }

// Scale implements nn.Device.
func (e *Engine) Scale(out, x nn.DeviceBuffer, alpha float32) {
	e.must(e.s.Scale(cb(out), cb(x), alpha))
}

// Axpy implements nn.Device.
func (e *Engine) Axpy(y, x nn.DeviceBuffer, alpha float32) { e.must(e.s.Axpy(cb(y), cb(x), alpha)) }

// AxpyDev implements nn.Device.
func (e *Engine) AxpyDev(y, x, alpha nn.DeviceBuffer) { e.must(e.s.AxpyDev(cb(y), cb(x), cb(alpha))) }

// MulAcc implements nn.Device.
func (e *Engine) MulAcc(dx, dout, mask nn.DeviceBuffer) {
	e.must(e.s.MulAcc(cb(dx), cb(dout), cb(mask)))
}

// ReLU implements nn.Device.
func (e *Engine) ReLU(out, x nn.DeviceBuffer) { e.must(e.s.ReLU(cb(out), cb(x))) }

// ReLUBackward implements nn.Device.
func (e *Engine) ReLUBackward(dx, dout, out nn.DeviceBuffer) {
	e.must(e.s.ReLUBackward(cb(dx), cb(dout), cb(out)))
}

// GELU implements nn.Device.
func (e *Engine) GELU(out, x nn.DeviceBuffer, kind nn.GELUKind) {
	e.must(e.s.GELU(cb(out), cb(x), kind))
}

// GELUBackward implements nn.Device.
func (e *Engine) GELUBackward(dx, dout, x nn.DeviceBuffer, kind nn.GELUKind) {
	e.must(e.s.GELUBackward(cb(dx), cb(dout), cb(x), kind))
}

// Softmax implements nn.Device.
func (e *Engine) Softmax(out, x nn.DeviceBuffer, rows, c int) {
	e.must(e.s.Softmax(cb(out), cb(x), rows, c, 1))
}

// SoftmaxBackward implements nn.Device.
func (e *Engine) SoftmaxBackward(dx, dy, y nn.DeviceBuffer, rows, c int) {
	e.must(e.s.SoftmaxBackward(cb(dx), cb(dy), cb(y), rows, c, 1, true))
}

// LayerNorm implements nn.Device.
func (e *Engine) LayerNorm(out, mean, rstd, x, w, b nn.DeviceBuffer, rows, c int, eps float32) {
	e.must(e.s.LayerNorm(cb(out), cb(mean), cb(rstd), cb(x), cb(w), cb(b), rows, c, eps))
}

// LayerNormBackward implements nn.Device.
func (e *Engine) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd nn.DeviceBuffer, rows, c int) {
	e.must(e.s.LayerNormBackward(cb(dx), cb(dw), cb(db), cb(dout), cb(x), cb(w), cb(mean), cb(rstd), rows, c))
}

// CrossEntropy implements nn.Device.
func (e *Engine) CrossEntropy(loss, prob, logits, labels nn.DeviceBuffer, n, c int, smoothing float32) {
	e.must(e.s.CrossEntropy(cb(loss), cb(prob), cb(logits), cb(labels), n, c, smoothing))
}

// CrossEntropyBackward implements nn.Device.
func (e *Engine) CrossEntropyBackward(dlogits, prob, labels, dloss nn.DeviceBuffer, n, c int, smoothing float32) {
	e.must(e.s.CrossEntropyBackward(cb(dlogits), cb(prob), cb(labels), cb(dloss), n, c, smoothing))
}

// MeanTokens implements nn.Device.
func (e *Engine) MeanTokens(out, x nn.DeviceBuffer, b, t, c int) {
	e.must(e.s.MeanTokens(cb(out), cb(x), b, t, c))
}

// MeanTokensBackward implements nn.Device.
func (e *Engine) MeanTokensBackward(dx, dout nn.DeviceBuffer, b, t, c int) {
	e.must(e.s.MeanTokensBackward(cb(dx), cb(dout), b, t, c))
}

// RepeatRows implements nn.Device.
func (e *Engine) RepeatRows(out, x nn.DeviceBuffer, a, m, c int) {
	e.must(e.s.RepeatRows(cb(out), cb(x), a, m, c))
}

// RepeatRowsBackward implements nn.Device.
func (e *Engine) RepeatRowsBackward(dx, dout nn.DeviceBuffer, a, m, c int) {
	e.must(e.s.RepeatRowsBackward(cb(dx), cb(dout), a, m, c))
}

// Copy2D implements nn.Device.
func (e *Engine) Copy2D(dst nn.DeviceBuffer, dstOff, ds int, src nn.DeviceBuffer, srcOff, ss, rows, cols int, acc bool) {
	e.must(e.s.Copy2D(cb(dst), dstOff, ds, cb(src), srcOff, ss, rows, cols, acc))
}

// MaxMiddle implements nn.Device.
func (e *Engine) MaxMiddle(out, arg, x nn.DeviceBuffer, a, m, c int) {
	e.must(e.s.MaxMiddle(cb(out), cb(arg), cb(x), a, m, c))
}

// MaxMiddleBackward implements nn.Device.
func (e *Engine) MaxMiddleBackward(dx, dout, arg nn.DeviceBuffer, a, m, c int) {
	e.must(e.s.MaxMiddleBackward(cb(dx), cb(dout), cb(arg), a, m, c))
}

// ScaleShift implements nn.Device.
func (e *Engine) ScaleShift(out, x, gamma, beta nn.DeviceBuffer, rows, c int) {
	e.must(e.s.ScaleShift(cb(out), cb(x), cb(gamma), cb(beta), rows, c))
}

// ScaleShiftBackward implements nn.Device.
func (e *Engine) ScaleShiftBackward(dx, dgamma, dbeta, dout, x, gamma nn.DeviceBuffer, rows, c int) {
	e.must(e.s.ScaleShiftBackward(cb(dx), cb(dgamma), cb(dbeta), cb(dout), cb(x), cb(gamma), rows, c))
}

// RowScale implements nn.Device.
func (e *Engine) RowScale(out, x, s nn.DeviceBuffer, rows, c int) {
	e.must(e.s.RowScale(cb(out), cb(x), cb(s), rows, c))
}

// RowScaleBackward implements nn.Device.
func (e *Engine) RowScaleBackward(dx, ds, dout, x, s nn.DeviceBuffer, rows, c int) {
	e.must(e.s.RowScaleBackward(cb(dx), cb(ds), cb(dout), cb(x), cb(s), rows, c))
}

// L2Normalize implements nn.Device.
func (e *Engine) L2Normalize(out, norm, x nn.DeviceBuffer, rows, c int, eps float32) {
	e.must(e.s.L2Normalize(cb(out), cb(norm), cb(x), rows, c, eps))
}

// L2NormalizeBackward implements nn.Device.
func (e *Engine) L2NormalizeBackward(dx, dout, y, norm nn.DeviceBuffer, rows, c int, eps float32) {
	e.must(e.s.L2NormalizeBackward(cb(dx), cb(dout), cb(y), cb(norm), rows, c, eps))
}

// ChamferL2 implements nn.Device.
func (e *Engine) ChamferL2(out, dist1, dist2, idx1, idx2, a, b nn.DeviceBuffer, batch, n, m, dim int) {
	e.must(e.s.ChamferL2(cb(out), cb(dist1), cb(dist2), cb(idx1), cb(idx2), cb(a), cb(b), batch, n, m, dim))
}

// ChamferL2Backward implements nn.Device.
func (e *Engine) ChamferL2Backward(da, db, dout, a, b, idx1, idx2 nn.DeviceBuffer, batch, n, m, dim int) {
	e.must(e.s.ChamferL2Backward(cb(da), cb(db), cb(dout), cb(a), cb(b), cb(idx1), cb(idx2), batch, n, m, dim))
}

// Top1 implements nn.Device.
func (e *Engine) Top1(out, arg, p nn.DeviceBuffer, rows, c int) {
	e.must(e.s.Top1(cb(out), cb(arg), cb(p), rows, c))
}

// Top1Backward implements nn.Device.
func (e *Engine) Top1Backward(dp, dout, arg nn.DeviceBuffer, rows, c int) {
	e.must(e.s.Top1Backward(cb(dp), cb(dout), cb(arg), rows, c))
}

// Dot implements nn.Device.
func (e *Engine) Dot(out, x, w nn.DeviceBuffer) { e.must(e.s.Dot(cb(out), cb(x), cb(w))) }

// Attention implements nn.Device.
func (e *Engine) Attention(out, probs, qkv nn.DeviceBuffer, b, t, c, heads int, scale float32) {
	e.must(e.s.Attention(cb(out), cb(probs), cb(qkv), b, t, c, heads, scale))
}

// AttentionBackward implements nn.Device.
func (e *Engine) AttentionBackward(dqkv, dout, qkv, probs nn.DeviceBuffer, b, t, c, heads int, scale float32) {
	e.must(e.s.AttentionBackward(cb(dqkv), cb(dout), cb(qkv), cb(probs), b, t, c, heads, scale))
}

// BatchNorm implements nn.Device.
func (e *Engine) BatchNorm(out, mean, rstd, runMean, runVar, x, w, b nn.DeviceBuffer, rows, c int, eps, momentum float32, train bool) {
	e.must(e.s.BatchNorm(cb(out), cb(mean), cb(rstd), cb(runMean), cb(runVar), cb(x), cb(w), cb(b), rows, c, eps, momentum, train))
}

// BatchNormBackward implements nn.Device.
func (e *Engine) BatchNormBackward(dx, dw, db, dout, x, w, mean, rstd nn.DeviceBuffer, rows, c int, train bool) {
	e.must(e.s.BatchNormBackward(cb(dx), cb(dw), cb(db), cb(dout), cb(x), cb(w), cb(mean), cb(rstd), rows, c, train))
}

// Dropout implements nn.Device.
func (e *Engine) Dropout(out, mask, x nn.DeviceBuffer, p float32, key0, key1 uint32) {
	e.must(e.s.Dropout(cb(out), cb(mask), cb(x), p, key0, key1))
}

// AdamW implements nn.Device.
func (e *Engine) AdamW(p, g, m, v nn.DeviceBuffer, b1, b2, eps, step, decay, sbc2 float64) {
	e.must(e.s.AdamW(cb(p), cb(g), cb(m), cb(v), b1, b2, eps, step, decay, sbc2))
}

// SumSquares implements nn.Device: Σ x² over every buffer, in double, in
// buffer order (deterministic); it waits for the result.
func (e *Engine) SumSquares(bs []nn.DeviceBuffer) float64 {
	acc, err := e.s.Alloc(2)
	e.must(err)
	defer acc.Free()
	e.must(e.s.Zero(acc))
	for _, b := range bs {
		e.must(e.s.SumSq(acc, cb(b)))
	}
	var out [2]float32
	e.must(e.s.Download(out[:], acc))
	lo, hi := math.Float32bits(out[0]), math.Float32bits(out[1])
	return math.Float64frombits(uint64(lo) | uint64(hi)<<32)
}

var _ nn.Device = &Engine{}
