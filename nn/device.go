package nn

import (
	"fmt"
	"math/rand/v2"
)

// DeviceBuffer is memory on an accelerator holding 32-bit values, owned by
// the Device that allocated it.
type DeviceBuffer interface{ Len() int }

// Device runs the engine's operations on an accelerator. Package nn keeps
// the graph, the tape and every operation's forward and backward logic;
// a Device supplies memory and kernels (package nn/cuda's Engine is one).
// nn never imports an implementation, so the engine builds and runs
// without one.
//
// A tensor lives on a device when it was made by Upload, by an operation
// on device tensors, or is a parameter moved by Params.ToDevice. An
// operation runs on the device of its inputs; host inputs that need no
// gradient (data, frozen host values) are uploaded for it. Kernels are
// queued in order on one stream; Download and SumSquares wait for them.
//
// Device methods panic with a *DeviceError when the device fails (a
// kernel fault, out of memory): the engine has no error returns, and a
// failed device cannot continue the step.
type Device interface {
	String() string
	// Alloc returns n zeroed values; Free gives a buffer back.
	Alloc(n int) DeviceBuffer
	Free(b DeviceBuffer)
	Upload(dst DeviceBuffer, src []float32)
	UploadInt32(dst DeviceBuffer, src []int32)
	// Download waits for the queued work and copies src into dst.
	Download(dst []float32, src DeviceBuffer)
	Zero(b DeviceBuffer)
	Fill(b DeviceBuffer, v float32)
	Copy(dst, src DeviceBuffer)

	// Row-major products as nn/blas.Sgemm.
	Gemm(transA, transB bool, m, n, k int, alpha float32, a DeviceBuffer, lda int, b DeviceBuffer, ldb int, beta float32, c DeviceBuffer, ldc int)
	BiasRows(out, b DeviceBuffer, rows, c int)
	ColSum(db, dy DeviceBuffer, rows, c int)
	Add(out, a, b DeviceBuffer)
	Scale(out, x DeviceBuffer, alpha float32)
	Axpy(y, x DeviceBuffer, alpha float32)
	AxpyDev(y, x, alpha DeviceBuffer)
	MulAcc(dx, dout, mask DeviceBuffer)
	ReLU(out, x DeviceBuffer)
	ReLUBackward(dx, dout, out DeviceBuffer)
	// GELU and GELUBackward take the variant: GELUExact, GELUTanh or
	// GELUQuick.
	GELU(out, x DeviceBuffer, kind GELUKind)
	GELUBackward(dx, dout, x DeviceBuffer, kind GELUKind)
	Softmax(out, x DeviceBuffer, rows, c int)
	SoftmaxBackward(dx, dy, y DeviceBuffer, rows, c int)
	LayerNorm(out, mean, rstd, x, w, b DeviceBuffer, rows, c int, eps float32)
	LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd DeviceBuffer, rows, c int)
	CrossEntropy(loss, prob, logits, labels DeviceBuffer, n, c int, smoothing float32)
	CrossEntropyBackward(dlogits, prob, labels, dloss DeviceBuffer, n, c int, smoothing float32)
	MeanTokens(out, x DeviceBuffer, b, t, c int)
	MeanTokensBackward(dx, dout DeviceBuffer, b, t, c int)
	RepeatRows(out, x DeviceBuffer, a, m, c int)
	RepeatRowsBackward(dx, dout DeviceBuffer, a, m, c int)
	Copy2D(dst DeviceBuffer, dstOff, ds int, src DeviceBuffer, srcOff, ss, rows, cols int, acc bool)
	MaxMiddle(out, arg, x DeviceBuffer, a, m, c int)
	MaxMiddleBackward(dx, dout, arg DeviceBuffer, a, m, c int)
	ScaleShift(out, x, gamma, beta DeviceBuffer, rows, c int)
	ScaleShiftBackward(dx, dgamma, dbeta, dout, x, gamma DeviceBuffer, rows, c int)
	RowScale(out, x, s DeviceBuffer, rows, c int)
	RowScaleBackward(dx, ds, dout, x, s DeviceBuffer, rows, c int)
	L2Normalize(out, norm, x DeviceBuffer, rows, c int, eps float32)
	L2NormalizeBackward(dx, dout, y, norm DeviceBuffer, rows, c int, eps float32)
	Top1(out, arg, p DeviceBuffer, rows, c int)
	Top1Backward(dp, dout, arg DeviceBuffer, rows, c int)
	Dot(out, x, w DeviceBuffer)
	Attention(out, probs, qkv DeviceBuffer, b, t, c, heads int, scale float32)
	AttentionBackward(dqkv, dout, qkv, probs DeviceBuffer, b, t, c, heads int, scale float32)
	// BatchNorm's mean and rstd hold c float64 values (2c 32-bit).
	BatchNorm(out, mean, rstd, runMean, runVar, x, w, b DeviceBuffer, rows, c int, eps, momentum float32, train bool)
	BatchNormBackward(dx, dw, db, dout, x, w, mean, rstd DeviceBuffer, rows, c int, train bool)
	Dropout(out, mask, x DeviceBuffer, p float32, key0, key1 uint32)
	// ChamferL2 writes ChamferL2's loss of a (batch×n×dim) and b
	// (batch×m×dim) to out[0], keeping the nearest distances (dist1,
	// dist2: batch·n and batch·m float64, 2× as many 32-bit values) and
	// their int32 indices (idx1 into b, idx2 into a) for the backward,
	// which adds the gradients to da and db (either may be nil) for the
	// loss gradient dout[0].
	ChamferL2(out, dist1, dist2, idx1, idx2, a, b DeviceBuffer, batch, n, m, dim int)
	ChamferL2Backward(da, db, dout, a, b, idx1, idx2 DeviceBuffer, batch, n, m, dim int)
	// AdamW and SumSquares serve package optim.
	// AdamW's betas are float64: the kernel multiplies by float32(β) and
	// float32(1-β), as torch does.
	AdamW(p, g, m, v DeviceBuffer, b1, b2, eps, step, decay, sbc2 float64)
	SumSquares(bs []DeviceBuffer) float64
}

// DeviceError is what a Device panics with when it fails.
type DeviceError struct{ Err error }

func (e *DeviceError) Error() string { return "device: " + e.Err.Error() }
func (e *DeviceError) Unwrap() error { return e.Err }

// Device is the device holding the tensor, nil on the host.
func (t *Tensor) Device() Device { return t.dev }

// DeviceData is the tensor's device memory (nil on the host).
func (t *Tensor) DeviceData() DeviceBuffer { return t.d }

// DeviceGrad is the tensor's gradient on its device, nil until allocated.
func (t *Tensor) DeviceGrad() DeviceBuffer { return t.dgrad }

// Host returns the tensor's values on the host: Data itself for a host
// tensor, a downloaded copy (waiting for the device) for a device one.
func (t *Tensor) Host() []float32 {
	if t.dev == nil {
		return t.Data
	}
	out := make([]float32, t.Len())
	t.dev.Download(out, t.d)
	return out
}

// HostGrad returns the gradient on the host (nil when there is none).
func (t *Tensor) HostGrad() []float32 {
	if t.dev == nil {
		return t.Grad
	}
	if t.dgrad == nil {
		return nil
	}
	out := make([]float32, t.Len())
	t.dev.Download(out, t.dgrad)
	return out
}

// SetHostGrad sets the gradient to g's values: on the host g itself becomes
// the gradient; on a device g is uploaded into the device gradient
// (allocated if there is none yet).
func (t *Tensor) SetHostGrad(g []float32) {
	if t.dev == nil {
		t.Grad = g
		return
	}
	if len(g) != t.Len() {
		panic(fmt.Sprintf("nn: gradient of %d values for %v", len(g), t.Shape))
	}
	t.dev.Upload(t.dg(), g)
}

// Upload returns a copy of data (of the given shape) on device d, owned by
// tp (freed by its Release), without gradient.
func Upload(tp *Tape, d Device, data []float32, shape ...int) *Tensor {
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("nn: Upload of %d values as %v", len(data), shape))
	}
	t := &Tensor{Shape: append([]int(nil), shape...), dev: d, tape: tp}
	t.d = tp.dalloc(d, len(data))
	d.Upload(t.d, data)
	return t
}

// ToDevice moves the parameters to d: each gets device memory holding its
// values, and operations on it run there. Data stays as the host copy,
// brought up to date by SyncHost; host gradients are dropped. Parameters
// marked Host (BatchNorm's batch counter) stay on the host.
func (ps Params) ToDevice(d Device) {
	for _, p := range ps {
		if p.Host || p.dev == d {
			continue
		}
		if p.dev != nil {
			panic(fmt.Sprintf("nn: parameter %s is already on %v", p.Name, p.dev))
		}
		p.dev = d
		p.d = d.Alloc(len(p.Data))
		d.Upload(p.d, p.Data)
		p.Grad = nil
	}
}

// SyncHost copies the device parameters' values into their Data (for a
// checkpoint or an export); they stay on the device.
func (ps Params) SyncHost() {
	for _, p := range ps {
		if p.dev != nil {
			p.dev.Download(p.Data, p.d)
		}
	}
}

// Upload copies the parameters' Data to their device memory (after Data
// changed on the host, e.g. a checkpoint loaded into a model on a device).
func (ps Params) Upload() {
	for _, p := range ps {
		if p.dev != nil {
			p.dev.Upload(p.d, p.Data)
		}
	}
}

// ToHost brings the parameters back to the host: Data gets their values,
// their device memory (and gradients) are freed.
func (ps Params) ToHost() {
	ps.SyncHost()
	for _, p := range ps {
		if p.dev == nil {
			continue
		}
		p.dev.Free(p.d)
		if p.dgrad != nil {
			p.dev.Free(p.dgrad)
		}
		p.dev, p.d, p.dgrad = nil, nil, nil
	}
}

// deviceOf returns the device of the first device tensor among ts.
func deviceOf(ts ...*Tensor) Device {
	for _, t := range ts {
		if t != nil && t.dev != nil {
			return t.dev
		}
	}
	return nil
}

// dg returns t's device gradient, allocating it zeroed on first use.
func (t *Tensor) dg() DeviceBuffer {
	if t.dgrad == nil {
		if t.tape != nil {
			t.dgrad = t.tape.dgradBuf(t.dev, t.Len())
		} else {
			t.dgrad = t.dev.Alloc(t.Len())
		}
	}
	return t.dgrad
}

// dgIf returns t's device gradient when t needs one, else nil.
func dgIf(t *Tensor) DeviceBuffer {
	if t == nil || !t.needGrad {
		return nil
	}
	return t.dg()
}

func dd(t *Tensor) DeviceBuffer {
	if t == nil {
		return nil
	}
	return t.d
}

// toDev returns t on device d: t itself when it is there, else an upload
// owned by tp. A host tensor that needs a gradient cannot be uploaded
// (its gradient would stay on the device): move it with ToDevice first.
func (tp *Tape) toDev(d Device, t *Tensor) *Tensor {
	if t == nil || t.dev == d {
		return t
	}
	if t.dev != nil {
		panic(fmt.Sprintf("nn: tensors on two devices (%v and %v)", t.dev, d))
	}
	if t.needGrad {
		panic(fmt.Sprintf("nn: a host tensor %v that needs a gradient meets device tensors; move parameters with Params.ToDevice", t.Shape))
	}
	return Upload(tp, d, t.Data, t.Shape...)
}

// dalloc returns zeroed device memory owned by tp (freed by Release).
func (tp *Tape) dalloc(d Device, n int) DeviceBuffer {
	b := d.Alloc(n)
	if tp != nil {
		tp.mu.Lock()
		tp.setDev(d)
		tp.downed = append(tp.downed, b)
		tp.mu.Unlock()
	}
	return b
}

func (tp *Tape) setDev(d Device) {
	if tp.dev == nil {
		tp.dev = d
	} else if tp.dev != d {
		panic(fmt.Sprintf("nn: one tape on two devices (%v and %v)", tp.dev, d))
	}
}

// dgradBuf returns a zeroed gradient buffer for a tensor of tp, freed by
// Backward once consumed or by Release.
func (tp *Tape) dgradBuf(d Device, n int) DeviceBuffer {
	b := d.Alloc(n)
	tp.mu.Lock()
	tp.setDev(d)
	if tp.dgrads == nil {
		tp.dgrads = map[DeviceBuffer]bool{}
	}
	tp.dgrads[b] = true
	tp.mu.Unlock()
	return b
}

// newDevOut is newOut on device d.
func (tp *Tape) newDevOut(d Device, shape []int, ins ...*Tensor) *Tensor {
	t := &Tensor{Shape: append([]int(nil), shape...), dev: d, tape: tp}
	t.d = tp.dalloc(d, numel(shape))
	t.needGrad = tp.needs(ins...)
	return t
}

// releaseDevice frees the device memory the tape owns.
func (tp *Tape) releaseDevice() {
	if tp.dev == nil {
		return
	}
	for _, b := range tp.downed {
		tp.dev.Free(b)
	}
	tp.downed = tp.downed[:0]
	for b := range tp.dgrads {
		tp.dev.Free(b)
	}
	clear(tp.dgrads)
}

// ---- device forms of the operations (each op's CPU form calls its own) ----

func linearDev(tp *Tape, d Device, x, wt, bt *Tensor, rows, in, out int, shape []int) *Tensor {
	x, wt, bt = tp.toDev(d, x), tp.toDev(d, wt), tp.toDev(d, bt)
	y := tp.newDevOut(d, shape, x, wt, bt)
	beta := float32(0)
	if bt != nil {
		d.BiasRows(y.d, bt.d, rows, out)
		beta = 1
	}
	d.Gemm(false, true, rows, out, in, 1, x.d, in, wt.d, in, beta, y.d, out)
	tp.record(y, func() {
		if x.needGrad {
			d.Gemm(false, false, rows, in, out, 1, y.dgrad, out, wt.d, in, 1, x.dg(), in)
		}
		if wt.needGrad {
			d.Gemm(true, false, out, in, rows, 1, y.dgrad, out, x.d, in, 1, wt.dg(), in)
		}
		if bt != nil && bt.needGrad {
			d.ColSum(bt.dg(), y.dgrad, rows, out)
		}
	})
	return y
}

func layerNormDev(tp *Tape, d Device, x, wt, bt *Tensor, eps float32) *Tensor {
	x, wt, bt = tp.toDev(d, x), tp.toDev(d, wt), tp.toDev(d, bt)
	c := x.Dim(-1)
	rows := x.Len() / c
	out := tp.newDevOut(d, x.Shape, x, wt, bt)
	mean, rstd := tp.dalloc(d, rows), tp.dalloc(d, rows)
	d.LayerNorm(out.d, mean, rstd, x.d, dd(wt), dd(bt), rows, c, eps)
	tp.record(out, func() {
		d.LayerNormBackward(dgIf(x), dgIf(wt), dgIf(bt), out.dgrad, x.d, dd(wt), mean, rstd, rows, c)
	})
	return out
}

// unaryDev runs an element-wise operation and its backward.
func unaryDev(tp *Tape, d Device, x *Tensor, fwd func(out, x DeviceBuffer), bwd func(dx, dout DeviceBuffer, out *Tensor)) *Tensor {
	x = tp.toDev(d, x)
	out := tp.newDevOut(d, x.Shape, x)
	fwd(out.d, x.d)
	tp.record(out, func() { bwd(x.dg(), out.dgrad, out) })
	return out
}

func addDev(tp *Tape, d Device, a, b *Tensor) *Tensor {
	a, b = tp.toDev(d, a), tp.toDev(d, b)
	out := tp.newDevOut(d, a.Shape, a, b)
	d.Add(out.d, a.d, b.d)
	tp.record(out, func() {
		for _, t := range []*Tensor{a, b} {
			if t.needGrad {
				d.Axpy(t.dg(), out.dgrad, 1)
			}
		}
	})
	return out
}

func crossEntropyDev(tp *Tape, d Device, logits *Tensor, labels []int, n, c int, smoothing float32) *Tensor {
	logits = tp.toDev(d, logits)
	lab := make([]int32, n)
	for i, l := range labels {
		lab[i] = int32(l)
	}
	lb := tp.dalloc(d, n)
	d.UploadInt32(lb, lab)
	prob := tp.dalloc(d, n*c)
	out := tp.newDevOut(d, []int{1}, logits)
	d.CrossEntropy(out.d, prob, logits.d, lb, n, c, smoothing)
	tp.record(out, func() { d.CrossEntropyBackward(logits.dg(), prob, lb, out.dgrad, n, c, smoothing) })
	return out
}

func meanTokensDev(tp *Tape, d Device, x *Tensor, b, t, c int) *Tensor {
	x = tp.toDev(d, x)
	out := tp.newDevOut(d, []int{b, c}, x)
	d.MeanTokens(out.d, x.d, b, t, c)
	tp.record(out, func() { d.MeanTokensBackward(x.dg(), out.dgrad, b, t, c) })
	return out
}

func repeatRowsDev(tp *Tape, d Device, x *Tensor, a, m, c int) *Tensor {
	x = tp.toDev(d, x)
	out := tp.newDevOut(d, []int{a, m, c}, x)
	d.RepeatRows(out.d, x.d, a, m, c)
	tp.record(out, func() { d.RepeatRowsBackward(x.dg(), out.dgrad, a, m, c) })
	return out
}

func concatLastDev(tp *Tape, d Device, xs []*Tensor, rows, total int, shape []int) *Tensor {
	for i := range xs {
		xs[i] = tp.toDev(d, xs[i])
	}
	out := tp.newDevOut(d, shape, xs...)
	off := 0
	for _, x := range xs {
		c := x.Dim(-1)
		d.Copy2D(out.d, off, total, x.d, 0, c, rows, c, false)
		off += c
	}
	tp.record(out, func() {
		off := 0
		for _, x := range xs {
			c := x.Dim(-1)
			if x.needGrad {
				d.Copy2D(x.dg(), 0, c, out.dgrad, off, total, rows, c, true)
			}
			off += c
		}
	})
	return out
}

func maxMiddleDev(tp *Tape, d Device, x *Tensor, a, m, c int) *Tensor {
	x = tp.toDev(d, x)
	out := tp.newDevOut(d, []int{a, c}, x)
	arg := tp.dalloc(d, a*c)
	d.MaxMiddle(out.d, arg, x.d, a, m, c)
	tp.record(out, func() { d.MaxMiddleBackward(x.dg(), out.dgrad, arg, a, m, c) })
	return out
}

func concatTokensDev(tp *Tape, d Device, xs []*Tensor, b, t, c int) *Tensor {
	for i := range xs {
		xs[i] = tp.toDev(d, xs[i])
	}
	out := tp.newDevOut(d, []int{b, t, c}, xs...)
	off := 0
	for _, x := range xs {
		n := x.Dim(1) * c
		d.Copy2D(out.d, off, t*c, x.d, 0, n, b, n, false)
		off += n
	}
	tp.record(out, func() {
		off := 0
		for _, x := range xs {
			n := x.Dim(1) * c
			if x.needGrad {
				d.Copy2D(x.dg(), 0, n, out.dgrad, off, t*c, b, n, true)
			}
			off += n
		}
	})
	return out
}

func sliceTokensDev(tp *Tape, d Device, x *Tensor, lo, hi int) *Tensor {
	x = tp.toDev(d, x)
	b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	n := hi - lo
	out := tp.newDevOut(d, []int{b, n, c}, x)
	d.Copy2D(out.d, 0, n*c, x.d, lo*c, t*c, b, n*c, false)
	tp.record(out, func() { d.Copy2D(x.dg(), lo*c, t*c, out.dgrad, 0, n*c, b, n*c, true) })
	return out
}

func scaleShiftDev(tp *Tape, d Device, x, gt, bt *Tensor) *Tensor {
	x, gt, bt = tp.toDev(d, x), tp.toDev(d, gt), tp.toDev(d, bt)
	c := x.Dim(-1)
	rows := x.Len() / c
	out := tp.newDevOut(d, x.Shape, x, gt, bt)
	d.ScaleShift(out.d, x.d, gt.d, dd(bt), rows, c)
	tp.record(out, func() { d.ScaleShiftBackward(dgIf(x), dgIf(gt), dgIf(bt), out.dgrad, x.d, gt.d, rows, c) })
	return out
}

func rowScaleDev(tp *Tape, d Device, x, s *Tensor, rows, c int) *Tensor {
	x, s = tp.toDev(d, x), tp.toDev(d, s)
	out := tp.newDevOut(d, x.Shape, x, s)
	d.RowScale(out.d, x.d, s.d, rows, c)
	tp.record(out, func() { d.RowScaleBackward(dgIf(x), dgIf(s), out.dgrad, x.d, s.d, rows, c) })
	return out
}

func l2NormalizeDev(tp *Tape, d Device, x *Tensor, rows, c int, eps float32) *Tensor {
	x = tp.toDev(d, x)
	out := tp.newDevOut(d, x.Shape, x)
	norm := tp.dalloc(d, rows)
	d.L2Normalize(out.d, norm, x.d, rows, c, eps)
	tp.record(out, func() { d.L2NormalizeBackward(x.dg(), out.dgrad, out.d, norm, rows, c, eps) })
	return out
}

func columnDev(tp *Tape, d Device, x *Tensor, rows, c, j int) *Tensor {
	x = tp.toDev(d, x)
	out := tp.newDevOut(d, []int{rows, 1}, x)
	d.Copy2D(out.d, 0, 1, x.d, j, c, rows, 1, false)
	tp.record(out, func() { d.Copy2D(x.dg(), j, c, out.dgrad, 0, 1, rows, 1, true) })
	return out
}

func top1Dev(tp *Tape, d Device, p *Tensor, rows, c int) *Tensor {
	p = tp.toDev(d, p)
	out := tp.newDevOut(d, p.Shape, p)
	arg := tp.dalloc(d, rows)
	d.Top1(out.d, arg, p.d, rows, c)
	tp.record(out, func() { d.Top1Backward(p.dg(), out.dgrad, arg, rows, c) })
	return out
}

func dotConstDev(tp *Tape, d Device, x *Tensor, w []float32) *Tensor {
	x = tp.toDev(d, x)
	wb := tp.dalloc(d, len(w))
	d.Upload(wb, w)
	out := tp.newDevOut(d, []int{1}, x)
	d.Dot(out.d, x.d, wb)
	tp.record(out, func() { d.AxpyDev(x.dg(), wb, out.dgrad) })
	return out
}

func attentionDev(tp *Tape, d Device, qkv *Tensor, b, t, c, heads int, scale float32) *Tensor {
	qkv = tp.toDev(d, qkv)
	out := tp.newDevOut(d, []int{b, t, c}, qkv)
	probs := tp.dalloc(d, b*heads*t*t)
	d.Attention(out.d, probs, qkv.d, b, t, c, heads, scale)
	tp.record(out, func() { d.AttentionBackward(qkv.dg(), out.dgrad, qkv.d, probs, b, t, c, heads, scale) })
	return out
}

func (bn *BatchNorm) forwardDev(tp *Tape, d Device, x, w, b *Tensor, rows, c int) *Tensor {
	x, w, b = tp.toDev(d, x), tp.toDev(d, w), tp.toDev(d, b)
	rm, rv := bn.RunningMean.Tensor, bn.RunningVar.Tensor
	if rm.dev != d || rv.dev != d {
		panic(fmt.Sprintf("nn: BatchNorm's running statistics %s are not on %v (move every parameter with Params.ToDevice)", bn.RunningMean.Name, d))
	}
	train := tp.training()
	if train && rows < 2 {
		panic("nn: BatchNorm in training needs more than one value per channel")
	}
	out := tp.newDevOut(d, x.Shape, x, w, b)
	mean, rstd := tp.dalloc(d, 2*c), tp.dalloc(d, 2*c)
	d.BatchNorm(out.d, mean, rstd, rm.d, rv.d, x.d, w.d, b.d, rows, c, bn.Eps, bn.Momentum, train)
	if train {
		bn.NumBatchesTracked.Data[0]++
	}
	tp.record(out, func() {
		d.BatchNormBackward(dgIf(x), dgIf(w), dgIf(b), out.dgrad, x.d, w.d, mean, rstd, rows, c, train)
	})
	return out
}

// dropoutDev draws the Philox key from r: one Uint64 instead of the CPU's
// one Float32 per element, so the masks differ from the CPU's (same
// distribution, reproducible from the same stream).
func dropoutDev(tp *Tape, d Device, x *Tensor, p float32, r *rand.Rand) *Tensor {
	x = tp.toDev(d, x)
	key := r.Uint64()
	out := tp.newDevOut(d, x.Shape, x)
	mask := tp.dalloc(d, x.Len())
	d.Dropout(out.d, mask, x.d, p, uint32(key), uint32(key>>32))
	tp.record(out, func() { d.MulAcc(x.dg(), out.dgrad, mask) })
	return out
}

// dropPathDev draws the per-sample factors on the host, exactly as the
// CPU does, and applies them as a row scale.
func dropPathDev(tp *Tape, d Device, x *Tensor, keep []float32) *Tensor {
	x = tp.toDev(d, x)
	b := len(keep)
	per := x.Len() / b
	kb := tp.dalloc(d, b)
	d.Upload(kb, keep)
	out := tp.newDevOut(d, x.Shape, x)
	d.RowScale(out.d, x.d, kb, b, per)
	tp.record(out, func() { d.RowScaleBackward(x.dg(), nil, out.dgrad, x.d, kb, b, per) })
	return out
}

func scaleDev(tp *Tape, d Device, x *Tensor, a float32) *Tensor {
	x = tp.toDev(d, x)
	out := tp.newDevOut(d, x.Shape, x)
	d.Scale(out.d, x.d, a)
	tp.record(out, func() { d.Axpy(x.dg(), out.dgrad, a) })
	return out
}

// FromDevice wraps device memory buf of d (of the given shape) as a tensor
// without gradient; tp takes ownership and frees buf on Release.
func FromDevice(tp *Tape, d Device, buf DeviceBuffer, shape ...int) *Tensor {
	if numel(shape) != buf.Len() {
		panic(fmt.Sprintf("nn: FromDevice of %d values as %v", buf.Len(), shape))
	}
	t := &Tensor{Shape: append([]int(nil), shape...), dev: d, tape: tp, d: buf}
	if tp != nil {
		tp.mu.Lock()
		tp.setDev(d)
		tp.downed = append(tp.downed, buf)
		tp.mu.Unlock()
	}
	return t
}

// CatchDevice runs f and returns the *DeviceError it panics with, if any;
// other panics pass through.
func CatchDevice(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			de, ok := p.(*DeviceError)
			if !ok {
				panic(p)
			}
			err = de
		}
	}()
	f()
	return nil
}

// Detach forgets the parameters' device copies without reading them back,
// for use after a device failure: Data keeps the values last synced to the
// host (the last checkpoint's), and the parameters work on the host again.
func (ps Params) Detach() {
	for _, p := range ps {
		if p.dev == nil {
			continue
		}
		dev, d, g := p.dev, p.d, p.dgrad
		CatchDevice(func() {
			if d != nil {
				dev.Free(d)
			}
			if g != nil {
				dev.Free(g)
			}
		})
		p.dev, p.d, p.dgrad = nil, nil, nil
	}
}
