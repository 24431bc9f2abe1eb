package check

import (
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/nn/cuda"
)

var cases = []namedCase{
	{"add", caseAdd, false},
	{"scale", caseScale, false},
	{"relu", caseReLU, false},
	{"gelu", func(e *env) { caseGELU(e, nn.GELUExact) }, false},
	{"gelu_tanh", func(e *env) { caseGELU(e, nn.GELUTanh) }, false},
	{"quick_gelu", func(e *env) { caseGELU(e, nn.GELUQuick) }, false},
	{"layernorm", caseLayerNorm, false},
	{"softmax", caseSoftmax, false},
	{"batchnorm_train", func(e *env) { caseBatchNorm(e, true) }, false},
	{"batchnorm_eval", func(e *env) { caseBatchNorm(e, false) }, false},
	{"scale_shift", caseScaleShift, false},
	{"max_over_groups", caseMaxMiddle, false},
	{"cross_entropy", caseCrossEntropy, false},
	{"l2_normalize", caseL2Normalize, false},
	{"smoa_router", caseRouter, true},
	{"gemm", caseGemm, true},
	{"attention", caseAttention, true},
}

// input returns a CPU tensor of random values that needs a gradient.
func input(data []float32, shape ...int) *nn.Tensor {
	t := nn.FromData(append([]float32(nil), data...), shape...)
	t.SetRequiresGrad(true)
	return t
}

// param returns a trainable parameter holding data.
func param(name string, data []float32) *nn.Param {
	p := nn.NewParam(name, len(data))
	copy(p.Data, data)
	return p
}

// backward seeds out with the upstream gradient g (through DotConst) and
// runs the tape.
func backward(tp *nn.Tape, out *nn.Tensor, g []float32) {
	tp.Backward(nn.DotConst(tp, out, g))
}

// The token shape of the full cases: Point-MAE's B·T rows of C channels.
func (e *env) rowsC() (int, int) { return e.pick(37, 32*65), e.pick(48, 384) }

func caseAdd(e *env) {
	n := e.pick(1000, 32*65*384)
	a, b, g := e.normal(n, 1), e.normal(n, 1), e.normal(n, 1)
	tp := nn.NewTape(true)
	ta, tb := input(a, n), input(b, n)
	out := nn.Add(tp, ta, tb)
	backward(tp, out, g)
	var ga, gb, gout []float32
	e.timed(func() error {
		da, db, o := e.up(a), e.up(b), e.alloc(n)
		dga, dgb, dg := e.zeros(n), e.zeros(n), e.up(g)
		e.fail(e.s.Add(o, da, db))
		e.fail(e.s.Axpy(dga, dg, 1))
		e.fail(e.s.Axpy(dgb, dg, 1))
		gout, ga, gb = e.down(o), e.down(dga), e.down(dgb)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("da", ga, ta.Grad)
	e.cmp("db", gb, tb.Grad)
}

func caseScale(e *env) {
	n := e.pick(1000, 32*65*384)
	const alpha = -0.37
	x, g := e.normal(n, 1), e.normal(n, 1)
	tp := nn.NewTape(true)
	tx := input(x, n)
	out := nn.Scale(tp, tx, alpha)
	backward(tp, out, g)
	var gout, gdx []float32
	e.timed(func() error {
		dx, o, dg, ddx := e.up(x), e.alloc(n), e.up(g), e.zeros(n)
		e.fail(e.s.Scale(o, dx, alpha))
		e.fail(e.s.Axpy(ddx, dg, alpha))
		gout, gdx = e.down(o), e.down(ddx)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
}

func caseReLU(e *env) {
	n := e.pick(1000, 32*65*1536)
	x, g := e.normal(n, 1), e.normal(n, 1)
	tp := nn.NewTape(true)
	tx := input(x, n)
	out := nn.ReLU(tp, tx)
	backward(tp, out, g)
	var gout, gdx []float32
	e.timed(func() error {
		dx, o, dg, ddx := e.up(x), e.alloc(n), e.up(g), e.zeros(n)
		e.fail(e.s.ReLU(o, dx))
		e.fail(e.s.ReLUBackward(ddx, dg, o))
		gout, gdx = e.down(o), e.down(ddx)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
}

// caseGELU checks one GELU kind, forward and backward, against the CPU's
// nn.GELU (kinds exact and tanh) or nn.QuickGELU.
func caseGELU(e *env, kind nn.GELUKind) {
	n := e.pick(2000, 32*65*1536)
	x, g := e.normal(n, 2), e.normal(n, 1)
	// The far tails and zero.
	x[0], x[1], x[2], x[3] = -9.5, 9.5, 0, -3e-3
	tp := nn.NewTape(true)
	tx := input(x, n)
	var out *nn.Tensor
	if kind == nn.GELUQuick {
		out = nn.QuickGELU(tp, tx)
	} else {
		out = nn.GELU(tp, tx, kind == nn.GELUTanh)
	}
	backward(tp, out, g)
	var gout, gdx []float32
	e.timed(func() error {
		dx, o, dg, ddx := e.up(x), e.alloc(n), e.up(g), e.zeros(n)
		e.fail(e.s.GELU(o, dx, kind))
		e.fail(e.s.GELUBackward(ddx, dg, dx, kind))
		gout, gdx = e.down(o), e.down(ddx)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
}

func caseLayerNorm(e *env) {
	rows, c := e.rowsC()
	const eps = 1e-5
	x, g := e.normal(rows*c, 3), e.normal(rows*c, 1)
	for i := range x {
		x[i] += 5 // a mean far from 0, as activations have
	}
	w, b := e.normal(c, 1), e.normal(c, 1)
	tp := nn.NewTape(true)
	tx := input(x, rows, c)
	pw, pb := param("w", w), param("b", b)
	out := nn.LayerNorm(tp, tx, pw, pb, eps)
	backward(tp, out, g)
	var gout, gdx, gdw, gdb []float32
	e.timed(func() error {
		dx, dw, db, o := e.up(x), e.up(w), e.up(b), e.alloc(rows*c)
		mean, rstd := e.alloc(rows), e.alloc(rows)
		dg, ddx, ddw, ddb := e.up(g), e.zeros(rows*c), e.zeros(c), e.zeros(c)
		e.fail(e.s.LayerNorm(o, mean, rstd, dx, dw, db, rows, c, eps))
		e.fail(e.s.LayerNormBackward(ddx, ddw, ddb, dg, dx, dw, mean, rstd, rows, c))
		gout, gdx, gdw, gdb = e.down(o), e.down(ddx), e.down(ddw), e.down(ddb)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
	e.cmp("dw", gdw, pw.Grad)
	e.cmp("db", gdb, pb.Grad)
}

func caseSoftmax(e *env) {
	rows, c := e.pick(70, 32*6*65), e.pick(65, 65)
	x, g := e.normal(rows*c, 3), e.normal(rows*c, 1)
	tp := nn.NewTape(true)
	tx := input(x, rows, c)
	out := nn.Softmax(tp, tx)
	backward(tp, out, g)
	var gout, gdx []float32
	e.timed(func() error {
		dx, o, dg, ddx := e.up(x), e.alloc(rows*c), e.up(g), e.zeros(rows*c)
		e.fail(e.s.Softmax(o, dx, rows, c, 1))
		e.fail(e.s.SoftmaxBackward(ddx, dg, o, rows, c, 1, true))
		gout, gdx = e.down(o), e.down(ddx)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
}

func caseBatchNorm(e *env, train bool) {
	// The head's BatchNorm sees B rows; a point-wise one B·N.
	rows, c := e.pick(20, 32), e.pick(40, 256)
	x, g := e.normal(rows*c, 2), e.normal(rows*c, 1)
	for i := range x {
		x[i] += 1
	}
	bn := nn.NewBatchNorm("bn", c)
	copy(bn.Weight.Data, e.normal(c, 1))
	copy(bn.Bias.Data, e.normal(c, 1))
	copy(bn.RunningMean.Data, e.normal(c, 0.5))
	copy(bn.RunningVar.Data, e.uniform(c, 0.5, 2))
	w, b := append([]float32(nil), bn.Weight.Data...), append([]float32(nil), bn.Bias.Data...)
	rm, rv := append([]float32(nil), bn.RunningMean.Data...), append([]float32(nil), bn.RunningVar.Data...)
	tp := nn.NewTape(train)
	tx := input(x, rows, c)
	out := bn.Forward(tp, tx)
	backward(tp, out, g)
	var gout, gdx, gdw, gdb, grm, grv []float32
	e.timed(func() error {
		dx, dw, db, drm, drv := e.up(x), e.up(w), e.up(b), e.up(rm), e.up(rv)
		o, mean, rstd := e.alloc(rows*c), e.alloc(2*c), e.alloc(2*c)
		dg, ddx, ddw, ddb := e.up(g), e.zeros(rows*c), e.zeros(c), e.zeros(c)
		e.fail(e.s.BatchNorm(o, mean, rstd, drm, drv, dx, dw, db, rows, c, bn.Eps, bn.Momentum, train))
		e.fail(e.s.BatchNormBackward(ddx, ddw, ddb, dg, dx, dw, mean, rstd, rows, c, train))
		gout, gdx, gdw, gdb, grm, grv = e.down(o), e.down(ddx), e.down(ddw), e.down(ddb), e.down(drm), e.down(drv)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
	e.cmp("dw", gdw, bn.Weight.Grad)
	e.cmp("db", gdb, bn.Bias.Grad)
	e.cmp("running_mean", grm, bn.RunningMean.Data)
	e.cmp("running_var", grv, bn.RunningVar.Data)
}

func caseScaleShift(e *env) {
	rows, c := e.rowsC()
	x, g := e.normal(rows*c, 1), e.normal(rows*c, 1)
	gm, bt := e.uniform(c, 0.5, 1.5), e.normal(c, 0.1)
	tp := nn.NewTape(true)
	tx := input(x, rows, c)
	pg, pb := param("gamma", gm), param("beta", bt)
	out := nn.ScaleShift(tp, tx, pg, pb)
	backward(tp, out, g)
	var gout, gdx, gdg, gdb []float32
	e.timed(func() error {
		dx, dgm, dbt, o := e.up(x), e.up(gm), e.up(bt), e.alloc(rows*c)
		dg, ddx, ddg, ddb := e.up(g), e.zeros(rows*c), e.zeros(c), e.zeros(c)
		e.fail(e.s.ScaleShift(o, dx, dgm, dbt, rows, c))
		e.fail(e.s.ScaleShiftBackward(ddx, ddg, ddb, dg, dx, dgm, rows, c))
		gout, gdx, gdg, gdb = e.down(o), e.down(ddx), e.down(ddg), e.down(ddb)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
	e.cmp("dgamma", gdg, pg.Grad)
	e.cmp("dbeta", gdb, pb.Grad)
}

func caseMaxMiddle(e *env) {
	// Point-MAE's encoder: the max over each group's 32 points.
	a, m, c := e.pick(12, 32*128), e.pick(8, 32), e.pick(40, 256)
	x, g := e.normal(a*m*c, 1), e.normal(a*c, 1)
	tp := nn.NewTape(true)
	tx := input(x, a*m, c)
	out := nn.MaxMiddle(tp, tx, a, m, c)
	backward(tp, out, g)
	var gout, gdx []float32
	e.timed(func() error {
		dx, o, arg, dg, ddx := e.up(x), e.alloc(a*c), e.alloc(a*c), e.up(g), e.zeros(a*m*c)
		e.fail(e.s.MaxMiddle(o, arg, dx, a, m, c))
		e.fail(e.s.MaxMiddleBackward(ddx, dg, arg, a, m, c))
		gout, gdx = e.down(o), e.down(ddx)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
}

func caseCrossEntropy(e *env) {
	n, c := e.pick(9, 32), e.pick(40, 15)
	const smoothing = 0.1
	logits := e.normal(n*c, 3)
	labels := make([]int, n)
	l32 := make([]int32, n)
	for i := range labels {
		labels[i] = e.rng.IntN(c)
		l32[i] = int32(labels[i])
	}
	tp := nn.NewTape(true)
	tl := input(logits, n, c)
	loss := nn.CrossEntropy(tp, tl, labels, smoothing)
	tp.Backward(loss)
	var gloss, gdl []float32
	e.timed(func() error {
		dl, lab, prob, lo := e.up(logits), e.upI(l32), e.alloc(n*c), e.alloc(1)
		one, ddl := e.up([]float32{1}), e.zeros(n*c)
		e.fail(e.s.CrossEntropy(lo, prob, dl, lab, n, c, smoothing))
		e.fail(e.s.CrossEntropyBackward(ddl, prob, lab, one, n, c, smoothing))
		gloss, gdl = e.down(lo), e.down(ddl)
		return nil
	})
	e.cmp("loss", gloss, loss.Data)
	e.cmp("dlogits", gdl, tl.Grad)
}

func caseL2Normalize(e *env) {
	rows, c := e.pick(20, 4096), e.pick(24, 64)
	const eps = 1e-12
	x, g := e.normal(rows*c, 1), e.normal(rows*c, 1)
	tp := nn.NewTape(true)
	tx := input(x, rows, c)
	out := nn.L2Normalize(tp, tx, eps)
	backward(tp, out, g)
	var gout, gdx []float32
	e.timed(func() error {
		dx, o, norm, dg, ddx := e.up(x), e.alloc(rows*c), e.alloc(rows), e.up(g), e.zeros(rows*c)
		e.fail(e.s.L2Normalize(o, norm, dx, rows, c, eps))
		e.fail(e.s.L2NormalizeBackward(ddx, dg, o, norm, rows, c, eps))
		gout, gdx = e.down(o), e.down(ddx)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dx", gdx, tx.Grad)
}

// caseRouter is adapters.SMoA's gating after the projection: probs =
// softmax(z·normalize(emb)ᵀ), with gradients to z and emb.
func caseRouter(e *env) {
	// Sub-tokens of B·T tokens split in 4 heads; 8 experts of rank 16.
	n, ex, r := e.pick(50, 32*65*4), e.pick(5, 8), e.pick(6, 16)
	z, emb, g := e.normal(n*r, 1), e.normal(ex*r, 1), e.normal(n*ex, 1)
	tp := nn.NewTape(true)
	tz := input(z, n, r)
	pe := nn.NewParam("emb", ex, r)
	copy(pe.Data, emb)
	en := nn.L2Normalize(tp, pe.T(), cuda.RouterEps)
	probs := nn.Softmax(tp, nn.MatMulT(tp, tz, en))
	backward(tp, probs, g)
	var gp, gdz, gde []float32
	e.timed(func() error {
		dz, demb, dprobs, den, norm := e.up(z), e.up(emb), e.alloc(n*ex), e.alloc(ex*r), e.alloc(ex)
		dg, ddz, ddemb := e.up(g), e.zeros(n*r), e.zeros(ex*r)
		e.fail(e.s.Router(dprobs, den, norm, dz, demb, n, ex, r))
		e.fail(e.s.RouterBackward(ddz, ddemb, dg, dprobs, dz, den, norm, n, ex, r))
		gp, gdz, gde = e.down(dprobs), e.down(ddz), e.down(ddemb)
		return nil
	})
	e.cmp("probs", gp, probs.Data)
	e.cmp("dz", gdz, tz.Grad)
	e.cmp("demb", gde, pe.Grad)
}

// caseGemm compares cuBLAS through Stream.Gemm with nn/blas: a plain
// product with both transposes, and a strided batch with offsets.
func caseGemm(e *env) {
	m, n, k := e.pick(13, 2080), e.pick(11, 1536), e.pick(9, 384)
	a, b := e.normal(m*k, 1), e.normal(k*n, 1)
	c0 := e.normal(m*n, 1)
	cpu := append([]float32(nil), c0...)
	blas.Sgemm(true, true, m, n, k, 0.5, a, m, b, k, 0.25, cpu, n)
	// Batched: 3 products of (p×q)·(q×p) taken with a stride and an offset.
	bt, p, q := 3, e.pick(7, 65), e.pick(5, 64)
	off := 2
	ba, bb := e.normal(off+bt*p*q, 1), e.normal(bt*q*p, 1)
	bcpu := make([]float32, bt*p*p)
	blas.SgemmBatched(false, false, p, p, q, 1, ba[off:], q, bb, p, 0, bcpu, p, bt, p*q, q*p, p*p)
	var g1, g2 []float32
	e.timed(func() error {
		da, db, dc := e.up(a), e.up(b), e.up(c0)
		e.fail(e.s.Gemm(cuda.GemmArgs{TransA: true, TransB: true, M: m, N: n, K: k, Alpha: 0.5, Beta: 0.25,
			A: da, Lda: m, B: db, Ldb: k, C: dc, Ldc: n}))
		dba, dbb, dbc := e.up(ba), e.up(bb), e.alloc(bt*p*p)
		e.fail(e.s.Gemm(cuda.GemmArgs{M: p, N: p, K: q, Alpha: 1, A: dba, OffA: off, Lda: q, StrideA: p * q,
			B: dbb, Ldb: p, StrideB: q * p, C: dbc, Ldc: p, StrideC: p * p, Batch: bt}))
		g1, g2 = e.down(dc), e.down(dbc)
		return nil
	})
	e.cmp("product", g1, cpu)
	e.cmp("batched", g2, bcpu)
}

func caseAttention(e *env) {
	b, t, c, heads := e.pick(2, 32), e.pick(9, 65), e.pick(24, 384), e.pick(3, 6)
	qkv, g := e.normal(b*t*3*c, 1), e.normal(b*t*c, 1)
	tp := nn.NewTape(true)
	tq := input(qkv, b, t, 3*c)
	out := nn.Attention(tp, tq, heads, 0)
	backward(tp, out, g)
	var gout, gdq []float32
	e.timed(func() error {
		dq, o, probs := e.up(qkv), e.alloc(b*t*c), e.alloc(b*heads*t*t)
		dg, ddq := e.up(g), e.zeros(b*t*3*c)
		e.fail(e.s.Attention(o, probs, dq, b, t, c, heads, 0))
		e.fail(e.s.AttentionBackward(ddq, dg, dq, probs, b, t, c, heads, 0))
		gout, gdq = e.down(o), e.down(ddq)
		return nil
	})
	e.cmp("out", gout, out.Data)
	e.cmp("dqkv", gdq, tq.Grad)
}
