package optim

import (
	"math"
	"testing"

	"github.com/pcx-dev/pcx/nn"
)

func param(name string, data []float32, grad []float32, shape ...int) *nn.Param {
	p := &nn.Param{Tensor: nn.FromData(data, shape...), Name: name, Trainable: true}
	p.Grad = grad
	return p
}

func TestNoDecay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
		want  bool
	}{
		{"blocks.0.attn.qkv.weight", []int{3, 2}, false},
		{"blocks.0.attn.proj.bias", []int{6}, true},
		{"norm.weight", []int{6}, true},
		{"cls_token", []int{1, 1, 6}, true},
		{"cls_pos", []int{1, 1, 6}, false},
		{"head.0.weight", []int{2, 3}, false},
	} {
		p := param(tc.name, make([]float32, 6), nil, tc.shape...)
		if got := NoDecay(p); got != tc.want {
			t.Errorf("%s %v: NoDecay %v, want %v", tc.name, tc.shape, got, tc.want)
		}
	}
}

func TestAdamWFirstSteps(t *testing.T) {
	// torch.optim.AdamW by hand: with m̂ = g and v̂ = g² each step moves a
	// weight by lr·sign(g) (eps aside) after the decoupled decay.
	w := param("w", []float32{1, -2}, []float32{0.5, -0.25}, 1, 2)
	b := param("b", []float32{0.5}, []float32{1}, 1)
	o := NewAdamW(nn.Params{w, b}, 0.05)
	o.Step(0.1)
	want := []float64{1*(1-0.1*0.05) - 0.1, -2*(1-0.1*0.05) + 0.1}
	for i, v := range want {
		if math.Abs(float64(w.Data[i])-v) > 1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, w.Data[i], v)
		}
	}
	if math.Abs(float64(b.Data[0])-0.4) > 1e-6 {
		t.Errorf("bias %v: decayed or wrong step", b.Data[0])
	}
	o.Step(0.1)
	if math.Abs(float64(b.Data[0])-0.3) > 1e-5 {
		t.Errorf("bias after 2 steps %v, want 0.3", b.Data[0])
	}
	if o.Steps() != 2 || len(o.State()) != 4 {
		t.Errorf("steps %d, state %d buffers", o.Steps(), len(o.State()))
	}
}

func TestSGDMomentum(t *testing.T) {
	p := param("w", []float32{1}, []float32{2}, 1)
	o := NewSGD(nn.Params{p}, 0.9, 0)
	o.Step(0.1) // buf = 2, w = 1 - 0.2
	o.Step(0.1) // buf = 0.9·2 + 2 = 3.8, w = 0.8 - 0.38
	if math.Abs(float64(p.Data[0])-0.42) > 1e-6 {
		t.Errorf("w = %v, want 0.42", p.Data[0])
	}
}

func TestClipGradNorm(t *testing.T) {
	a := param("a", []float32{0, 0}, []float32{3, 0}, 2)
	b := param("b", []float32{0}, []float32{4}, 1)
	if n := ClipGradNorm(nn.Params{a, b}, 10); n != 5 || a.Grad[0] != 3 {
		t.Errorf("no clip expected: norm %v, grad %v", n, a.Grad)
	}
	ClipGradNorm(nn.Params{a, b}, 1)
	got := math.Hypot(float64(a.Grad[0]), float64(b.Grad[0]))
	if math.Abs(got-1) > 1e-5 {
		t.Errorf("clipped norm %v, want 1", got)
	}
}

func TestCosine(t *testing.T) {
	c := PointMAECosine(5e-4)
	for _, tc := range []struct{ t, want float64 }{
		{0, 1e-6},
		{5, 1e-6 + 5*(5e-4-1e-6)/10},
		{10, 1e-6 + 0.5*(5e-4-1e-6)*(1+math.Cos(math.Pi*10/300))},
		{150, 1e-6 + 0.5*(5e-4-1e-6)},
		{300, 1e-6},
		{400, 1e-6},
	} {
		if got := c.LR(tc.t); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("LR(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}

// TestResumeIsExact checks that an optimiser rebuilt from State, Steps and
// the weights continues exactly as the original.
func TestResumeIsExact(t *testing.T) {
	for _, mk := range []func(nn.Params) Optimizer{
		func(ps nn.Params) Optimizer { return NewAdamW(ps, 0.05) },
		func(ps nn.Params) Optimizer { return NewSGD(ps, 0.9, 1e-4) },
	} {
		w := param("w", []float32{1, 2, 3}, []float32{0.3, -0.1, 0.2}, 3)
		a := mk(nn.Params{w})
		a.Step(0.01)
		a.Step(0.01)
		w2 := param("w", append([]float32(nil), w.Data...), append([]float32(nil), w.Grad...), 3)
		b := mk(nn.Params{w2})
		b.Load(a.State())
		b.SetSteps(a.Steps())
		a.Step(0.01)
		b.Step(0.01)
		for i := range w.Data {
			if w.Data[i] != w2.Data[i] {
				t.Fatalf("%T: resumed weight %v, original %v", a, w2.Data, w.Data)
			}
		}
	}
}
