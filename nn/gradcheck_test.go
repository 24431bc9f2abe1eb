package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randT returns a tensor of normal values.
func randT(r *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

func randP(r *rand.Rand, name string, shape ...int) *Param {
	p := &Param{Tensor: randT(r, shape...), Name: name, Trainable: true}
	return p
}

// weightedSum is the scalar loss Σ out·w, whose gradient w.r.t. out is w.
func weightedSum(out *Tensor, w []float32) float64 {
	var s float64
	for i, v := range out.Data {
		s += float64(v) * float64(w[i])
	}
	return s
}

// checkGrad compares the tape's gradients of Σ f()·w with central finite
// differences for every tensor in wrt (inputs and trainable parameters),
// at up to 24 elements of each. f is run in training mode with a fresh
// tape each time; it must be deterministic.
//
// The loss is summed in float64 and the step is the one the float32 input
// really took ((x+h) - (x-h) in float64), so what remains is the float32
// rounding of f's outputs (about 1e-7 of the loss, over a step of 2e-2)
// and the O(h²) truncation. An element passes when the two agree within
// 2e-4 of the larger of them plus 2e-4 of the tensor's largest analytic
// gradient (a gradient near zero is judged on the tensor's scale, not on an
// absolute 1).
func checkGrad(t *testing.T, name string, wrt []*Tensor, f func(tp *Tape) *Tensor) {
	t.Helper()
	const tol = 2e-4
	r := rand.New(rand.NewPCG(99, 1))
	for _, x := range wrt {
		x.needGrad = true
		x.Grad = nil
	}
	tp := NewTape(true)
	out := f(tp)
	w := make([]float32, out.Len())
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	// Backward from out with seed gradient w.
	out.grad()
	copy(out.Grad, w)
	for i := len(tp.ops) - 1; i >= 0; i-- {
		tp.ops[i]()
	}
	loss := func() float64 { return weightedSum(f(&Tape{Train: true, noGrad: true}), w) }
	for k, x := range wrt {
		if x.Grad == nil {
			t.Errorf("%s: input %d got no gradient", name, k)
			continue
		}
		var scale float64
		for _, g := range x.Grad {
			scale = math.Max(scale, math.Abs(float64(g)))
		}
		n := x.Len()
		idx := r.Perm(n)
		if len(idx) > 24 {
			idx = idx[:24]
		}
		for _, i := range idx {
			orig := x.Data[i]
			h := float32(1e-2) * max(1, float32(math.Abs(float64(orig))))
			hi, lo := orig+h, orig-h
			x.Data[i] = hi
			lp := loss()
			x.Data[i] = lo
			lm := loss()
			x.Data[i] = orig
			num := (lp - lm) / (float64(hi) - float64(lo))
			ana := float64(x.Grad[i])
			if math.Abs(num-ana) > tol*(math.Max(math.Abs(num), math.Abs(ana))+scale) {
				t.Errorf("%s: input %d element %d: analytic %.6g, numeric %.6g (largest gradient %.3g)", name, k, i, ana, num, scale)
			}
		}
	}
}

func TestGradBasicOps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randT(r, 2, 3, 8)
	w, b := randP(r, "w", 8), randP(r, "b", 8)
	checkGrad(t, "LayerNorm", []*Tensor{x, w.Tensor, b.Tensor}, func(tp *Tape) *Tensor { return LayerNorm(tp, x, w, b, 1e-5) })
	checkGrad(t, "LayerNorm no affine", []*Tensor{x}, func(tp *Tape) *Tensor { return LayerNorm(tp, x, nil, nil, 1e-6) })
	checkGrad(t, "GELU erf", []*Tensor{x}, func(tp *Tape) *Tensor { return GELU(tp, x, false) })
	checkGrad(t, "GELU tanh", []*Tensor{x}, func(tp *Tape) *Tensor { return GELU(tp, x, true) })
	checkGrad(t, "QuickGELU", []*Tensor{x}, func(tp *Tape) *Tensor { return QuickGELU(tp, x) })
	checkGrad(t, "ReLU", []*Tensor{x}, func(tp *Tape) *Tensor { return ReLU(tp, x) })
	checkGrad(t, "Softmax", []*Tensor{x}, func(tp *Tape) *Tensor { return Softmax(tp, x) })
	y := randT(r, 2, 3, 8)
	checkGrad(t, "Add", []*Tensor{x, y}, func(tp *Tape) *Tensor { return Add(tp, x, y) })
	checkGrad(t, "Add to itself", []*Tensor{x}, func(tp *Tape) *Tensor { return Add(tp, x, x) })
	checkGrad(t, "MeanTokens", []*Tensor{x}, func(tp *Tape) *Tensor { return MeanTokens(tp, x) })
	logits := randT(r, 5, 7)
	labels := []int{0, 6, 3, 3, 1}
	checkGrad(t, "CrossEntropy", []*Tensor{logits}, func(tp *Tape) *Tensor { return CrossEntropy(tp, logits, labels, 0) })
	checkGrad(t, "CrossEntropy smoothed", []*Tensor{logits}, func(tp *Tape) *Tensor { return CrossEntropy(tp, logits, labels, 0.1) })
}

func TestFrozenParamPassesDataGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randT(r, 4, 6)
	w, b := randP(r, "norm.weight", 6), randP(r, "norm.bias", 6)
	ps := Params{w, b}
	if n := ps.Freeze("norm.*"); n != 2 {
		t.Fatalf("froze %d", n)
	}
	x.SetRequiresGrad(true)
	tp := NewTape(true)
	loss := MeanTokens(tp, LayerNorm(tp, x, w, b, 1e-5).Reshape(1, 4, 6))
	s := CrossEntropy(tp, loss, []int{2}, 0)
	tp.Backward(s)
	if w.Grad != nil || b.Grad != nil {
		t.Error("frozen parameters got a weight gradient")
	}
	nz := false
	for _, g := range x.Grad {
		nz = nz || g != 0
	}
	if !nz {
		t.Error("no data gradient through the frozen LayerNorm")
	}
	if ps.Unfreeze("*weight") != 1 || !w.Trainable || b.Trainable {
		t.Error("Unfreeze by pattern")
	}
}

func TestGradShapeOps(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := randT(r, 3, 4, 5)
	y := randT(r, 3, 2, 5)
	checkGrad(t, "MaxMiddle", []*Tensor{x}, func(tp *Tape) *Tensor { return MaxMiddle(tp, x, 3, 4, 5) })
	checkGrad(t, "ConcatTokens", []*Tensor{x, y}, func(tp *Tape) *Tensor { return ConcatTokens(tp, y, x, y) })
	checkGrad(t, "SliceTokens", []*Tensor{x}, func(tp *Tape) *Tensor { return SliceTokens(tp, x, 1, 3) })
	g, b := randP(r, "g", 5), randP(r, "b", 5)
	checkGrad(t, "ScaleShift", []*Tensor{x, g.Tensor, b.Tensor}, func(tp *Tape) *Tensor { return ScaleShift(tp, x, g, b) })
	s := randT(r, 3, 4, 1)
	checkGrad(t, "RowScale", []*Tensor{x, s}, func(tp *Tape) *Tensor { return RowScale(tp, x, s) })
	checkGrad(t, "L2Normalize", []*Tensor{x}, func(tp *Tape) *Tensor { return L2Normalize(tp, x, 1e-12) })
	checkGrad(t, "Dropout", []*Tensor{x}, func(tp *Tape) *Tensor {
		return Dropout(tp, x, 0.3, rand.New(rand.NewPCG(7, 7)))
	})
	checkGrad(t, "DropPath", []*Tensor{x}, func(tp *Tape) *Tensor {
		return DropPath(tp, x, 0.5, rand.New(rand.NewPCG(8, 8)))
	})
}

func TestDropoutStatistics(t *testing.T) {
	x := New(10000)
	for i := range x.Data {
		x.Data[i] = 1
	}
	out := Dropout(NewTape(true), x, 0.25, rand.New(rand.NewPCG(1, 1)))
	var s float64
	zeros := 0
	for _, v := range out.Data {
		s += float64(v)
		if v == 0 {
			zeros++
		}
	}
	if math.Abs(s/10000-1) > 0.03 || math.Abs(float64(zeros)/10000-0.25) > 0.02 {
		t.Errorf("dropout mean %v, zero share %v", s/10000, float64(zeros)/10000)
	}
	if Dropout(NewTape(false), x, 0.25, nil) != x {
		t.Error("dropout not identity in evaluation")
	}
}

func TestGradBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	x := randT(r, 6, 4)
	bn := NewBatchNorm("bn", 4)
	for i := range bn.Weight.Data {
		bn.Weight.Data[i] = float32(1 + 0.3*r.NormFloat64())
		bn.Bias.Data[i] = float32(0.3 * r.NormFloat64())
	}
	checkGrad(t, "BatchNorm train", []*Tensor{x, bn.Weight.Tensor, bn.Bias.Tensor}, func(tp *Tape) *Tensor { return bn.Forward(tp, x) })
	evalTape := func(tp *Tape) *Tensor { tp.Train = false; return bn.Forward(tp, x) }
	checkGrad(t, "BatchNorm eval", []*Tensor{x, bn.Weight.Tensor}, evalTape)
}

func TestBatchNormRunningStatsWhenFrozen(t *testing.T) {
	bn := NewBatchNorm("bn", 2)
	bn.Params().Freeze()
	x := FromData([]float32{1, 10, 3, 20, 5, 30}, 3, 2)
	bn.Forward(NewTape(true), x)
	// mean (3, 20), unbiased var (4, 100); momentum 0.1 from (0, 1).
	want := []float32{0.3, 2, 0.9 + 0.4, 0.9 + 10}
	got := []float32{bn.RunningMean.Data[0], bn.RunningMean.Data[1], bn.RunningVar.Data[0], bn.RunningVar.Data[1]}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("running stats %v, want %v", got, want)
		}
	}
	if bn.NumBatchesTracked.Data[0] != 1 {
		t.Error("num_batches_tracked not counted")
	}
	bn.Forward(NewTape(false), x)
	if bn.NumBatchesTracked.Data[0] != 1 {
		t.Error("evaluation changed the running statistics")
	}
}

func TestGradLinearAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := randT(r, 2, 5, 6)
	w, b := randP(r, "w", 4, 6), randP(r, "b", 4)
	checkGrad(t, "Linear", []*Tensor{x, w.Tensor, b.Tensor}, func(tp *Tape) *Tensor { return Linear(tp, x, w, b) })
	checkGrad(t, "Linear no bias", []*Tensor{x, w.Tensor}, func(tp *Tape) *Tensor { return Linear(tp, x, w, nil) })
	cw := &Param{Tensor: FromData(append([]float32(nil), w.Data...), 4, 6, 1), Name: "conv.weight", Trainable: true}
	checkGrad(t, "Conv1d k=1", []*Tensor{x, cw.Tensor, b.Tensor}, func(tp *Tape) *Tensor { return Conv1d(tp, x, cw, b) })
	qkv := randT(r, 2, 5, 3*8)
	checkGrad(t, "Attention", []*Tensor{qkv}, func(tp *Tape) *Tensor { return Attention(tp, qkv, 2, 0) })
	checkGrad(t, "Attention scaled", []*Tensor{qkv}, func(tp *Tape) *Tensor { return Attention(tp, qkv, 4, 0.3) })
}

func TestPoolReusesBuffers(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := randT(r, 2, 5, 6)
	w, b := randP(r, "w", 6, 6), randP(r, "b", 6)
	pool := NewPool()
	step := func() float32 {
		tp := NewTapePool(true, pool)
		loss := CrossEntropy(tp, MeanTokens(tp, GELU(tp, Linear(tp, x, w, b), false)), []int{1, 2}, 0)
		tp.Backward(loss)
		v := loss.Data[0]
		tp.Release()
		return v
	}
	w.ZeroGrad()
	l1 := step()
	g1 := append([]float32(nil), w.Grad...)
	n := pool.Allocated
	w.ZeroGrad()
	if l2 := step(); l2 != l1 {
		t.Errorf("loss changed with recycled buffers: %v vs %v", l2, l1)
	}
	for i := range g1 {
		if w.Grad[i] != g1[i] {
			t.Fatal("gradient changed with recycled buffers")
		}
	}
	if pool.Allocated != n {
		t.Errorf("second step allocated %d new buffers", pool.Allocated-n)
	}
}

func TestGradBroadcastOps(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	x := randT(r, 3, 4)
	y := randT(r, 3, 2)
	checkGrad(t, "RepeatRows", []*Tensor{x}, func(tp *Tape) *Tensor { return RepeatRows(tp, x, 5) })
	checkGrad(t, "ConcatLast", []*Tensor{x, y}, func(tp *Tape) *Tensor { return ConcatLast(tp, y, x, y) })
}

func TestGradMoEOps(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	x := randT(r, 6, 4)
	w := randT(r, 3, 4)
	checkGrad(t, "Column", []*Tensor{x}, func(tp *Tape) *Tensor { return Column(tp, x, 2) })
	checkGrad(t, "Top1", []*Tensor{x}, func(tp *Tape) *Tensor { return Top1(tp, x) })
	c := make([]float32, x.Len())
	for i := range c {
		c[i] = float32(r.NormFloat64())
	}
	checkGrad(t, "DotConst", []*Tensor{x}, func(tp *Tape) *Tensor { return DotConst(tp, x, c) })
	checkGrad(t, "Scale", []*Tensor{x}, func(tp *Tape) *Tensor { return Scale(tp, x, -0.7) })
	checkGrad(t, "MatMulT", []*Tensor{x, w}, func(tp *Tape) *Tensor { return MatMulT(tp, x, w) })
	got := ArgmaxRows([]float32{1, 3, 3, 0, -1, -2}, 2, 3)
	if got[0] != 1 || got[1] != 0 {
		t.Errorf("ArgmaxRows = %v", got)
	}
}
