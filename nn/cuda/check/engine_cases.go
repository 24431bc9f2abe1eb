package check

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cuda"
)

// The nn_* cases run package nn's operations themselves on the CPU and, on
// a cuda.Engine, on the GPU, forward and backward (the upstream gradient
// through DotConst, so DotConst and its device-side scalar gradient are in
// every case), and compare the outputs and every input's gradient: they
// check the kernels of kernels/engine.cu and the engine's dispatch of each
// operation, bias and products included.

func init() {
	cases = append(cases,
		namedCase{"nn_linear", caseNNLinear, true},
		namedCase{"nn_mean_tokens", caseNNMeanTokens, false},
		namedCase{"nn_concat_slice_tokens", caseNNTokens, false},
		namedCase{"nn_repeat_concat_last", caseNNRepeatConcat, false},
		namedCase{"nn_row_scale", caseNNRowScale, false},
		namedCase{"nn_column", caseNNColumn, false},
		namedCase{"nn_top1", caseNNTop1, false},
		namedCase{"nn_dot_const_scale", caseNNDotScale, false},
		namedCase{"nn_drop_path", caseNNDropPath, false},
		namedCase{"nn_dropout", caseNNDropout, false},
		namedCase{"nn_quick_gelu", caseNNQuickGELU, false},
		namedCase{"nn_adamw_clip", caseNNAdamW, false},
		namedCase{"chamfer_l2", caseChamferL2, false},
		namedCase{"nn_chamfer_l2", caseNNChamferL2, false},
	)
}

// nnIn is an input of an nn case.
type nnIn struct {
	name  string
	data  []float32
	shape []int
	grad  bool // needs a gradient
	param bool // a parameter (moved with Params.ToDevice), else a tensor
}

// nnOp runs f on the CPU and on the engine with the same inputs and
// compares the output and the gradients.
func (e *env) nnOp(train bool, ins []nnIn, f func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor) {
	run := func(eng nn.Device) (out []float32, grads [][]float32) {
		tp := nn.NewTapePool(train, nn.NewPool())
		var ps nn.Params
		xs := make([]*nn.Tensor, len(ins))
		for i, in := range ins {
			data := append([]float32(nil), in.data...)
			if in.param {
				p := &nn.Param{Tensor: nn.FromData(data, in.shape...), Name: in.name, Trainable: in.grad}
				ps = append(ps, p)
				if eng != nil {
					nn.Params{p}.ToDevice(eng)
				}
				xs[i] = p.T()
				continue
			}
			if eng != nil {
				xs[i] = nn.Upload(tp, eng, data, in.shape...)
			} else {
				xs[i] = nn.FromData(data, in.shape...)
			}
			xs[i].SetRequiresGrad(in.grad)
		}
		y := f(tp, xs)
		g := make([]float32, y.Len())
		for i := range g {
			g[i] = float32(math.Sin(float64(i)*0.37) + 0.1)
		}
		tp.Backward(nn.DotConst(tp, y, g))
		out = y.Host()
		for i, in := range ins {
			if in.grad {
				grads = append(grads, xs[i].HostGrad())
			}
		}
		tp.Release()
		ps.ToHost()
		return out, grads
	}
	cpuOut, cpuGrads := run(nil)
	var gpuOut []float32
	var gpuGrads [][]float32
	e.timed(func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				de, ok := r.(*nn.DeviceError)
				if !ok {
					panic(r)
				}
				err = de
			}
		}()
		gpuOut, gpuGrads = run(cuda.NewEngine(e.s.Device()))
		return nil
	})
	e.cmp("out", gpuOut, cpuOut)
	k := 0
	for _, in := range ins {
		if in.grad {
			if e.ok() {
				e.cmp("d"+in.name, gpuGrads[k], cpuGrads[k])
			}
			k++
		}
	}
}

func caseNNLinear(e *env) {
	rows, in, out := e.pick(37, 32*65), e.pick(24, 384), e.pick(20, 1536)
	e.nnOp(true, []nnIn{
		{"x", e.normal(rows*in, 1), []int{rows, in}, true, false},
		{"w", e.normal(out*in, 0.2), []int{out, in}, true, true},
		{"b", e.normal(out, 0.2), []int{out}, true, true},
		{"w2", e.normal(6*in, 0.2), []int{6, in}, true, false},
	}, func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor {
		w := &nn.Param{Tensor: xs[1], Trainable: true}
		b := &nn.Param{Tensor: xs[2], Trainable: true}
		// Linear with a bias, and MatMulT (a product with a computed weight).
		return nn.ConcatLast(tp, nn.Linear(tp, xs[0], w, b), nn.MatMulT(tp, xs[0], xs[3]))
	})
}

// caseNNQuickGELU runs nn.QuickGELU through the Engine (the GELU kind
// passed down to the kernel) on a ViT adapter's B×T×rank activations.
func caseNNQuickGELU(e *env) {
	b, t, r := e.pick(3, 32), e.pick(7, 197), e.pick(8, 8)
	e.nnOp(true, []nnIn{{"x", e.normal(b*t*r, 3), []int{b, t, r}, true, false}},
		func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor { return nn.QuickGELU(tp, xs[0]) })
}

func caseNNMeanTokens(e *env) {
	b, t, c := e.pick(3, 32), e.pick(7, 129), e.pick(40, 384)
	e.nnOp(true, []nnIn{{"x", e.normal(b*t*c, 1), []int{b, t, c}, true, false}},
		func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor { return nn.MeanTokens(tp, xs[0]) })
}

func caseNNTokens(e *env) {
	b, c := e.pick(3, 32), e.pick(20, 384)
	t1, t2 := e.pick(1, 1), e.pick(9, 128)
	e.nnOp(true, []nnIn{
		{"a", e.normal(b*t1*c, 1), []int{b, t1, c}, true, false},
		{"p", e.normal(b*c, 1), []int{b, 1, c}, true, false},
		{"x", e.normal(b*t2*c, 1), []int{b, t2, c}, true, false},
	}, func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor {
		y := nn.ConcatTokens(tp, xs[0], xs[1], xs[2])
		t := y.Dim(1)
		// Slices of the middle and the end, joined again (DAPT's insertion).
		return nn.ConcatTokens(tp, nn.SliceTokens(tp, y, 0, 1), nn.SliceTokens(tp, y, 2, t), nn.SliceTokens(tp, y, 1, 2))
	})
}

func caseNNRepeatConcat(e *env) {
	a, m, c1, c2 := e.pick(6, 32*128), e.pick(5, 32), e.pick(12, 256), e.pick(20, 256)
	e.nnOp(true, []nnIn{
		{"global", e.normal(a*c1, 1), []int{a, c1}, true, false},
		{"local", e.normal(a*m*c2, 1), []int{a, m, c2}, true, false},
	}, func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor {
		return nn.ConcatLast(tp, nn.RepeatRows(tp, xs[0], m), xs[1])
	})
}

func caseNNRowScale(e *env) {
	rows, c := e.rowsC()
	e.nnOp(true, []nnIn{
		{"x", e.normal(rows*c, 1), []int{rows, c}, true, false},
		{"s", e.normal(rows, 1), []int{rows, 1}, true, false},
	}, func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor { return nn.RowScale(tp, xs[0], xs[1]) })
}

func caseNNColumn(e *env) {
	rows, c := e.pick(50, 32*129*3), 4
	e.nnOp(true, []nnIn{{"p", e.normal(rows*c, 1), []int{rows, c}, true, false}},
		func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor {
			return nn.ConcatLast(tp, nn.Column(tp, xs[0], 2), nn.Column(tp, xs[0], 0))
		})
}

func caseNNTop1(e *env) {
	rows, c := e.pick(50, 32*129*3), 4
	p := e.normal(rows*c, 1)
	p[c+1] = p[c] // a tie: the first wins
	e.nnOp(true, []nnIn{{"p", p, []int{rows, c}, true, false}},
		func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor { return nn.Top1(tp, nn.Softmax(tp, xs[0])) })
}

func caseNNDotScale(e *env) {
	n := e.pick(300, 32*129*12)
	w := e.normal(n, 1)
	e.nnOp(true, []nnIn{{"x", e.normal(n, 1), []int{n}, true, false}},
		func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor {
			return nn.Scale(tp, nn.Add(tp, nn.DotConst(tp, xs[0], w), nn.DotConst(tp, xs[0], w)), 0.3)
		})
}

// caseNNDropPath: the per-sample factors come from the host's stream, as
// on the CPU, so the results agree exactly.
func caseNNDropPath(e *env) {
	b, t, c := e.pick(8, 32), e.pick(5, 65), e.pick(16, 384)
	seed := e.rng.Uint64()
	e.nnOp(true, []nnIn{{"x", e.normal(b*t*c, 1), []int{b, t, c}, true, false}},
		func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor {
			return nn.DropPath(tp, xs[0], 0.4, newRand(seed))
		})
}

// caseNNDropout: the GPU draws its mask with Philox, so it is checked
// against cuda.PhiloxUniform (exactly) and for its keep rate, not against
// the CPU's mask.
func caseNNDropout(e *env) {
	n := e.pick(4000, 32*129*64)
	const p = 0.3
	x := e.normal(n, 1)
	for i := range x {
		if x[i] == 0 {
			x[i] = 1
		}
	}
	var out, dx []float32
	var key uint64
	e.timed(func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				de, ok := r.(*nn.DeviceError)
				if !ok {
					panic(r)
				}
				err = de
			}
		}()
		eng := cuda.NewEngine(e.s.Device())
		tp := nn.NewTapePool(true, nn.NewPool())
		defer tp.Release()
		tx := nn.Upload(tp, eng, x, n)
		tx.SetRequiresGrad(true)
		seed := e.rng.Uint64()
		key = newRand(seed).Uint64()
		y := nn.Dropout(tp, tx, p, newRand(seed))
		g := make([]float32, n)
		for i := range g {
			g[i] = 1
		}
		tp.Backward(nn.DotConst(tp, y, g))
		out, dx = y.Host(), tx.HostGrad()
		return nil
	})
	if !e.ok() {
		return
	}
	want, wantDx := make([]float32, n), make([]float32, n)
	kept := 0
	for i := range x {
		if cuda.PhiloxUniform(i, uint32(key), uint32(key>>32)) >= p {
			want[i], wantDx[i] = x[i]*(1/(1-p)), 1/(1-p)
			kept++
		}
	}
	e.cmp("out", out, want)
	e.cmp("dx", dx, wantDx)
	// The keep rate within 5 standard deviations of 1-p.
	rate, sd := float64(kept)/float64(n), math.Sqrt(p*(1-p)/float64(n))
	e.outs["keep_rate"] = 0
	if math.Abs(rate-(1-p)) > 5*sd {
		e.fail(fmt.Errorf("dropout keeps %.4f of %d elements, want %.2f", rate, n, 1-p))
	}
}

// caseNNAdamW: gradient clipping and two AdamW steps (with and without
// weight decay) on the device against optim on the CPU; nn/optim is not
// imported here (it imports nothing of cuda), so the update is nn.Device's
// AdamW against the same formula in Go.
func caseNNAdamW(e *env) {
	n := e.pick(1000, 1<<20)
	p0, g0 := e.normal(n, 1), e.normal(n, 3)
	// CPU reference, as optim.AdamW.Step.
	ref := func(decayed bool) ([]float32, float64) {
		p, g := append([]float32(nil), p0...), append([]float32(nil), g0...)
		var s float64
		for _, v := range g {
			s += float64(v) * float64(v)
		}
		norm := math.Sqrt(s)
		if c := 1 / (norm + 1e-6); c < 1 {
			for i := range g {
				g[i] *= float32(c)
			}
		}
		m, v := make([]float32, n), make([]float32, n)
		for t := 1; t <= 2; t++ {
			lr := 1e-3
			bc1, bc2 := 1-math.Pow(0.9, float64(t)), 1-math.Pow(0.999, float64(t))
			decay := 1.0
			if decayed {
				decay = 1 - lr*0.05
			}
			b1, b2 := float32(0.9), float32(0.999)
			c1, c2 := float32(1-0.9), float32(1-0.999) // 1-β in float64, as torch
			for i, gi := range g {
				m[i] = b1*m[i] + c1*gi
				v[i] = b2*v[i] + c2*gi*gi
				den := math.Sqrt(float64(v[i]))/math.Sqrt(bc2) + 1e-8
				p[i] = float32(float64(p[i])*decay - lr/bc1*float64(m[i])/den)
			}
		}
		return p, norm
	}
	for _, decayed := range []bool{false, true} {
		want, wantNorm := ref(decayed)
		var got []float32
		var norm float64
		e.timed(func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					de, ok := r.(*nn.DeviceError)
					if !ok {
						panic(r)
					}
					err = de
				}
			}()
			eng := cuda.NewEngine(e.s.Device())
			p, g, m, v := eng.Alloc(n), eng.Alloc(n), eng.Alloc(n), eng.Alloc(n)
			defer func() {
				for _, b := range []nn.DeviceBuffer{p, g, m, v} {
					eng.Free(b)
				}
			}()
			eng.Upload(p, p0)
			eng.Upload(g, g0)
			norm = eng.SumSquares([]nn.DeviceBuffer{g})
			norm = math.Sqrt(norm)
			if c := 1 / (norm + 1e-6); c < 1 {
				eng.Scale(g, g, float32(c))
			}
			for t := 1; t <= 2; t++ {
				lr := 1e-3
				bc1, bc2 := 1-math.Pow(0.9, float64(t)), 1-math.Pow(0.999, float64(t))
				decay := 1.0
				if decayed {
					decay = 1 - lr*0.05
				}
				eng.AdamW(p, g, m, v, 0.9, 0.999, 1e-8, lr/bc1, decay, math.Sqrt(bc2))
			}
			got = make([]float32, n)
			eng.Download(got, p)
			return nil
		})
		name := map[bool]string{false: "params", true: "params_decayed"}[decayed]
		e.cmp(name, got, want)
		if e.ok() {
			e.outs[name+"_norm"] = math.Abs(norm-wantNorm) / wantNorm
		}
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }
