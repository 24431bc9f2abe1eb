package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// encoderNet is a PointNet-like chain (Linear, BatchNorm, ReLU, Linear,
// group maximum concatenated to each point, Linear, BatchNorm, ReLU,
// Linear, group maximum, cross-entropy) with its parameters.
type encoderNet struct {
	w1, b1, w2, w3, w4 *Param
	bn1, bn2           *BatchNorm
}

func newEncoderNet(r *rand.Rand) *encoderNet {
	p := func(name string, shape ...int) *Param {
		q := NewParam(name, shape...)
		for i := range q.Data {
			q.Data[i] = float32(r.NormFloat64() * 0.5)
		}
		return q
	}
	n := &encoderNet{w1: p("w1", 8, 3), b1: p("b1", 8), w2: p("w2", 6, 8), w3: p("w3", 10, 12), w4: p("w4", 5, 10),
		bn1: NewBatchNorm("bn1", 8), bn2: NewBatchNorm("bn2", 10)}
	for _, bn := range []*BatchNorm{n.bn1, n.bn2} {
		for i := range bn.Weight.Data {
			bn.Weight.Data[i] = float32(1 + 0.3*r.NormFloat64())
			bn.Bias.Data[i] = float32(0.3 * r.NormFloat64())
		}
	}
	return n
}

// newEncoderCase returns an encoderNet, a groups of m random points and
// their labels, drawn from seed.
func newEncoderCase(seed uint64, a, m int) (*encoderNet, *Tensor, []int) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	n := newEncoderNet(r)
	x := New(a*m, 3)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := make([]int, a)
	for i := range labels {
		labels[i] = i % 5
	}
	return n, x, labels
}

func (n *encoderNet) params() Params {
	return append(append(Params{n.w1, n.b1, n.w2, n.w3, n.w4}, n.bn1.Params()...), n.bn2.Params()...)
}

// forward runs the chain on a groups of m points (x is (a·m)×3); lean
// uses ForwardReLU, ConcatRepeated and Discard, otherwise the plain
// operations.
func (n *encoderNet) forward(tp *Tape, x *Tensor, a, m int, lean bool) *Tensor {
	var h *Tensor
	if lean {
		h = n.bn1.ForwardReLU(tp, Linear(tp, x, n.w1, n.b1))
	} else {
		h = ReLU(tp, n.bn1.Forward(tp, Linear(tp, x, n.w1, n.b1)))
	}
	f := Linear(tp, h, n.w2, nil)
	g := MaxMiddle(tp, f, a, m, 6)
	var cat *Tensor
	if lean {
		cat = ConcatRepeated(tp, g, f, m)
		tp.Discard(f)
	} else {
		cat = ConcatLast(tp, RepeatRows(tp, g, m), f)
	}
	if lean {
		h = n.bn2.ForwardReLU(tp, Linear(tp, cat, n.w3, nil))
	} else {
		h = ReLU(tp, n.bn2.Forward(tp, Linear(tp, cat, n.w3, nil)))
	}
	y := Linear(tp, h, n.w4, nil)
	out := MaxMiddle(tp, y, a, m, 5)
	if lean {
		tp.Discard(y)
	}
	return out
}

// TestLeanEncoderOpsExact: BatchNorm.ForwardReLU, ConcatRepeated and
// Tape.Discard give bit for bit the loss, the gradients and the running
// statistics of the plain operations, in training and in evaluation, over
// two steps on one pool.
func TestLeanEncoderOpsExact(t *testing.T) {
	const a, m = 12, 7
	for _, train := range []bool{true, false} {
		type result struct {
			loss  []float32
			grads [][]float32
			stats [][]float32
		}
		run := func(lean bool) result {
			n, x, labels := newEncoderCase(1, a, m)
			pool := NewPool()
			var res result
			for step := 0; step < 2; step++ {
				n.params().ZeroGrad()
				tp := NewTapePool(train, pool)
				loss := CrossEntropy(tp, n.forward(tp, x, a, m, lean), labels, 0)
				tp.Backward(loss)
				res.loss = append(res.loss, loss.Data[0])
				tp.Release()
			}
			for _, p := range n.params() {
				if p.Buffer {
					res.stats = append(res.stats, append([]float32(nil), p.Data...))
				} else {
					res.grads = append(res.grads, append([]float32(nil), p.Grad...))
				}
			}
			return res
		}
		plain, lean := run(false), run(true)
		same := func(what string, a, b []float32) {
			if len(a) != len(b) || len(a) == 0 {
				t.Fatalf("train %v, %s: %d and %d values", train, what, len(a), len(b))
			}
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("train %v, %s[%d]: plain %v, lean %v", train, what, i, a[i], b[i])
				}
			}
		}
		same("loss", plain.loss, lean.loss)
		for i := range plain.grads {
			same(fmt.Sprintf("gradient %d", i), plain.grads[i], lean.grads[i])
		}
		for i := range plain.stats {
			same(fmt.Sprintf("buffer %d", i), plain.stats[i], lean.stats[i])
		}
	}
}

// TestDiscardReusesBuffer: a discarded output's buffer serves the next
// request of its size and the tensor keeps its length (that its gradient
// still flows is TestLeanEncoderOpsExact's); a tensor not from the tape's
// pool is left alone, and a buffer discarded twice is given back once.
func TestDiscardReusesBuffer(t *testing.T) {
	pool := NewPool()
	tp := NewTapePool(true, pool)
	w := NewParam("w", 300, 4)
	x := New(2, 4)
	y := Linear(tp, x, w, nil)
	before := pool.Allocated
	tp.Discard(y)
	if y.Data != nil || y.Len() != 600 {
		t.Fatalf("discarded tensor: data %d values, Len %d", len(y.Data), y.Len())
	}
	z := Linear(tp, x, w, nil)
	if pool.Allocated != before {
		t.Errorf("the next output of the same size allocated (%d buffers, %d before)", pool.Allocated, before)
	}
	tp.Discard(x) // not the tape's: unchanged
	if len(x.Data) != 8 {
		t.Errorf("Discard of a tensor the tape does not own cleared it")
	}
	tp.Discard(z)
	tp.Discard(z) // twice: once given back
	tp.Release()
	n := 0
	for _, l := range pool.free {
		n += len(l)
	}
	if n != pool.Allocated {
		t.Errorf("pool holds %d free buffers of %d allocated after Release", n, pool.Allocated)
	}
	var nt *Tape
	nt.Discard(y) // a nil tape: no-op
}

// TestLinearConcatRepeated: on a tape that records nothing,
// LinearConcatRepeated gives the values of Linear over ConcatRepeated —
// bit for bit with the Go kernels for Point-MAE's encoder widths (256 + 256
// channels into 512, whose product the kernels block at the join), with
// and without a bias, on one pool over two calls (reused buffers); on a
// recording tape it is the two operations, gradients included.
func TestLinearConcatRepeated(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	randT := func(shape ...int) *Tensor {
		x := New(shape...)
		for i := range x.Data {
			x.Data[i] = float32(r.NormFloat64())
		}
		return x
	}
	randP := func(name string, shape ...int) *Param {
		p := NewParam(name, shape...)
		copy(p.Data, randT(shape...).Data)
		return p
	}
	const a, m = 40, 32
	g, x := randT(a, 256), randT(a*m, 256)
	w, b := randP("w", 512, 512), randP("b", 512)
	pool := NewPool()
	for _, bias := range []*Param{b, nil, b} {
		tp := NewTapePool(true, pool).Scope()
		want := Linear(tp, ConcatRepeated(tp, g, x, m), w, bias)
		got := LinearConcatRepeated(tp, g, x, m, w, bias)
		for i := range want.Data {
			if math.Float32bits(want.Data[i]) != math.Float32bits(got.Data[i]) {
				t.Fatalf("bias %v: value %d is %v, Linear over the concatenation gives %v", bias != nil, i, got.Data[i], want.Data[i])
			}
		}
		tp.Release()
	}
	// Other widths: the same values to rounding.
	g2, x2, w2 := randT(5, 6), randT(5*3, 4), randP("w2", 7, 10)
	tp := NewTape(false)
	want := Linear(tp, ConcatRepeated(tp, g2, x2, 3), w2, nil)
	got := LinearConcatRepeated(tp.Scope(), g2, x2, 3, w2, nil)
	for i := range want.Data {
		if d := math.Abs(float64(want.Data[i] - got.Data[i])); d > 1e-5*(1+math.Abs(float64(want.Data[i]))) {
			t.Fatalf("6+4 channels: value %d is %v, want %v", i, got.Data[i], want.Data[i])
		}
	}
	// Recording: the gradients of the composition.
	labels := make([]int, 15)
	for i := range labels {
		labels[i] = i % 7
	}
	grads := func(f func(tp *Tape, g, x *Tensor) *Tensor) [][]float32 {
		Params{w2}.ZeroGrad()
		gt, xt := FromData(append([]float32(nil), g2.Data...), 5, 6), FromData(append([]float32(nil), x2.Data...), 15, 4)
		gt.SetRequiresGrad(true)
		xt.SetRequiresGrad(true)
		tp := NewTape(true)
		tp.Backward(CrossEntropy(tp, f(tp, gt, xt), labels, 0))
		return [][]float32{append([]float32(nil), w2.Grad...), gt.Grad, xt.Grad}
	}
	ref := grads(func(tp *Tape, g, x *Tensor) *Tensor { return Linear(tp, ConcatRepeated(tp, g, x, 3), w2, nil) })
	fused := grads(func(tp *Tape, g, x *Tensor) *Tensor { return LinearConcatRepeated(tp, g, x, 3, w2, nil) })
	for k := range ref {
		if len(ref[k]) == 0 || len(ref[k]) != len(fused[k]) {
			t.Fatalf("recording tape, gradient %d: %d and %d values", k, len(ref[k]), len(fused[k]))
		}
		for i := range ref[k] {
			if ref[k][i] != fused[k][i] {
				t.Fatalf("recording tape, gradient %d[%d]: %v, want %v", k, i, fused[k][i], ref[k][i])
			}
		}
	}
}

// TestReleaseInBackward: a tape that gives outputs back during Backward
// computes the same loss, gradients and running statistics bit for bit over
// two steps on one pool; after Backward the outputs are invalid and the
// loss is not.
func TestReleaseInBackward(t *testing.T) {
	const a, m = 12, 7
	run := func(release bool) (loss []float32, grads [][]float32, alive int) {
		n, x, labels := newEncoderCase(3, a, m)
		pool := NewPool()
		for step := 0; step < 2; step++ {
			n.params().ZeroGrad()
			tp := NewTapePool(true, pool)
			if release {
				tp.ReleaseInBackward()
			}
			logits := n.forward(tp, x, a, m, true)
			l := CrossEntropy(tp, logits, labels, 0)
			tp.Backward(l)
			loss = append(loss, l.Data[0])
			alive = len(logits.Data)
			tp.Release()
		}
		for _, p := range n.params() {
			grads = append(grads, append([]float32(nil), p.Grad...))
			if p.Buffer {
				grads = append(grads, append([]float32(nil), p.Data...))
			}
		}
		return loss, grads, alive
	}
	l0, g0, alive0 := run(false)
	l1, g1, alive1 := run(true)
	if alive0 == 0 || alive1 != 0 {
		t.Fatalf("logits after Backward: %d values kept without, %d with ReleaseInBackward", alive0, alive1)
	}
	for i := range l0 {
		if math.Float32bits(l0[i]) != math.Float32bits(l1[i]) {
			t.Fatalf("step %d loss %v, with ReleaseInBackward %v", i, l0[i], l1[i])
		}
	}
	for k := range g0 {
		for i := range g0[k] {
			if math.Float32bits(g0[k][i]) != math.Float32bits(g1[k][i]) {
				t.Fatalf("gradient or buffer %d[%d]: %v, with ReleaseInBackward %v", k, i, g0[k][i], g1[k][i])
			}
		}
	}
}

// TestBatchNormReLULinear: on a tape that records nothing, ReLULinear gives
// Linear over ReLU over BatchNorm bit for bit, with the same running
// statistics, in training and evaluation, whole and reduced chunk by chunk.
func TestBatchNormReLULinear(t *testing.T) {
	for _, train := range []bool{true, false} {
		run := func(fused bool, reduce bool) (out []float32, stats []float32) {
			r := rand.New(rand.NewPCG(13, 14))
			bn := NewBatchNorm("bn", 24)
			for i := range bn.Weight.Data {
				bn.Weight.Data[i] = float32(1 + 0.3*r.NormFloat64())
				bn.Bias.Data[i] = float32(0.3 * r.NormFloat64())
				bn.RunningMean.Data[i] = float32(r.NormFloat64())
			}
			w, b := NewParam("w", 10, 24), NewParam("b", 10)
			for i := range w.Data {
				w.Data[i] = float32(r.NormFloat64())
			}
			for i := range b.Data {
				b.Data[i] = float32(r.NormFloat64())
			}
			x := New(70, 24)
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64()*2 + 1)
			}
			tp := NewTapePool(train, NewPool()).Scope()
			var reduced []float32
			red := func(y *Tensor, row0 int) { reduced = append(reduced, y.Data...) }
			switch {
			case fused && reduce:
				bn.ReLULinear(tp, x, w, b, 16, red)
				out = reduced
			case fused:
				out = append(out, bn.ReLULinear(tp, x, w, b, 16, nil).Data...)
			default:
				out = append(out, Linear(tp, ReLU(tp, bn.Forward(tp, x)), w, b).Data...)
			}
			return out, append(append([]float32(nil), bn.RunningMean.Data...), bn.RunningVar.Data...)
		}
		want, wantStats := run(false, false)
		for _, reduce := range []bool{false, true} {
			got, gotStats := run(true, reduce)
			if len(got) != len(want) {
				t.Fatalf("train %v reduce %v: %d values, want %d", train, reduce, len(got), len(want))
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("train %v reduce %v: value %d is %v, want %v", train, reduce, i, got[i], want[i])
				}
			}
			for i := range wantStats {
				if math.Float32bits(gotStats[i]) != math.Float32bits(wantStats[i]) {
					t.Fatalf("train %v reduce %v: running statistic %d is %v, want %v", train, reduce, i, gotStats[i], wantStats[i])
				}
			}
		}
	}
}
