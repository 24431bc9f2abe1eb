package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// The fixtures come from scripts/golden_nn.py (PyTorch, float64 on float32
// inputs); pcx must agree within 1e-4 relative to each tensor's largest
// magnitude.
const goldenTol = 1e-4

type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

type goldenCase struct {
	Inputs map[string]goldenTensor    `json:"inputs"`
	Params map[string]goldenTensor    `json:"params"`
	Output goldenTensor               `json:"output"`
	R      goldenTensor               `json:"r"`
	Grads  map[string]goldenTensor    `json:"grads"`
	Extra  map[string]json.RawMessage `json:"extra"`
}

func loadGolden(t *testing.T) map[string]goldenCase {
	t.Helper()
	b, err := os.ReadFile("../testdata/golden/nn.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases map[string]goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

func (g goldenTensor) tensor() *Tensor {
	return FromData(append([]float32(nil), g.Data...), g.Shape...)
}

func (g goldenTensor) param(name string) *Param {
	return &Param{Tensor: g.tensor(), Name: name, Trainable: true}
}

// near reports the largest difference relative to the reference's largest
// magnitude.
func relDiff(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / math.Max(m, 1e-12)
}

func checkClose(t *testing.T, what string, got []float32, want goldenTensor) {
	t.Helper()
	if len(got) != len(want.Data) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want.Data))
		return
	}
	if d := relDiff(got, want.Data); d > goldenTol {
		t.Errorf("%s: relative difference %.3g", what, d)
	}
}

// runGolden feeds a case's inputs and params through f, compares the output
// and, by backward from Σ out·R, the gradients of every input and param.
func runGolden(t *testing.T, name string, c goldenCase, f func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor) {
	t.Helper()
	in := map[string]*Tensor{}
	for k, v := range c.Inputs {
		in[k] = v.tensor()
		in[k].SetRequiresGrad(c.Grads[k].Data != nil)
	}
	ps := map[string]*Param{}
	for k, v := range c.Params {
		ps[k] = v.param(k)
		ps[k].Trainable = c.Grads[k].Data != nil
	}
	tp := NewTape(true)
	out := f(tp, in, ps)
	checkClose(t, name+" output", out.Data, c.Output)
	if c.R.Data == nil {
		return
	}
	copy(out.grad(), c.R.Data)
	for i := len(tp.ops) - 1; i >= 0; i-- {
		tp.ops[i]()
	}
	for k, g := range c.Grads {
		var got []float32
		if t0, ok := in[k]; ok {
			got = t0.Grad
		} else if p, ok := ps[k]; ok {
			got = p.Grad
		}
		if got == nil {
			t.Errorf("%s: no gradient for %s", name, k)
			continue
		}
		checkClose(t, name+" grad "+k, got, g)
	}
	for k, p := range ps {
		if !p.Trainable && p.Grad != nil {
			t.Errorf("%s: frozen %s got a weight gradient", name, k)
		}
	}
}

type goldenFn = func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor

func TestGoldenOps(t *testing.T) {
	cases := loadGolden(t)
	var labels []int
	for name, f := range goldenOps(t, &labels) {
		c, ok := cases[name]
		if !ok {
			t.Errorf("no fixture %s: rerun scripts/golden_nn.py", name)
			continue
		}
		if l, ok := c.Extra["labels"]; ok {
			json.Unmarshal(l, &labels)
		}
		runGolden(t, name, c, f)
	}
}

// goldenOps maps the fixture's single-operation cases to pcx's operations;
// labels receives each cross-entropy case's labels before it runs.
func goldenOps(t *testing.T, labelsPtr *[]int) map[string]goldenFn {
	cases := loadGolden(t)
	var labels0 []int
	if labelsPtr == nil {
		labelsPtr = &labels0
	}
	return map[string]goldenFn{
		"linear": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return Linear(tp, in["x"], ps["w"], ps["b"])
		},
		"linear_nobias": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return Linear(tp, in["x"], ps["w"], nil)
		},
		"layernorm": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return LayerNorm(tp, in["x"], ps["w"], ps["b"], 1e-5)
		},
		"layernorm_eps6": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return LayerNorm(tp, in["x"], ps["w"], ps["b"], 1e-6)
		},
		"gelu":      func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return GELU(tp, in["x"], false) },
		"gelu_tanh": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return GELU(tp, in["x"], true) },
		"quick_gelu": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return QuickGELU(tp, in["x"])
		},
		"chamfer_l2": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return ChamferL2(tp, in["a"], in["b"])
		},
		"chamfer_l2_d5": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return ChamferL2(tp, in["a"], in["b"])
		},
		"relu":    func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return ReLU(tp, in["x"]) },
		"softmax": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return Softmax(tp, in["x"]) },
		"scale_shift": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return ScaleShift(tp, in["x"], ps["g"], ps["b"])
		},
		"row_scale": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return RowScale(tp, in["x"], in["s"])
		},
		"l2norm": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return L2Normalize(tp, in["x"], 1e-12)
		},
		"max_tokens": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			x := in["x"]
			return MaxMiddle(tp, x, x.Dim(0), x.Dim(1), x.Dim(2))
		},
		"mean_tokens": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return MeanTokens(tp, in["x"]) },
		"concat": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return ConcatTokens(tp, in["y"], in["x"])
		},
		"slice": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return SliceTokens(tp, in["x"], 1, 4)
		},
		"cross_entropy": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return CrossEntropy(tp, in["z"], *labelsPtr, 0)
		},
		"cross_entropy_smooth": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return CrossEntropy(tp, in["z"], *labelsPtr, 0.1)
		},
		"attention": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return Attention(tp, in["qkv"], 2, 0)
		},
		"attention_scaled": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return Attention(tp, in["qkv"], 4, 0.3)
		},
		"add":   func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return Add(tp, in["x"], in["y"]) },
		"scale": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return Scale(tp, in["x"], -0.7) },
		"layernorm_noaffine": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return LayerNorm(tp, in["x"], nil, nil, 1e-6)
		},
		"conv1d": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return Conv1d(tp, in["x"], ps["w"], ps["b"])
		},
		"column": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return Column(tp, in["x"], 2) },
		"top1":   func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor { return Top1(tp, in["p"]) },
		"dot_const": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return DotConst(tp, in["x"], goldenExtra(t, cases["dot_const"], "w").Data)
		},
		"matmul_t": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return MatMulT(tp, in["x"], in["w"])
		},
		"repeat_rows": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return RepeatRows(tp, in["x"], 5)
		},
		"concat_last": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return ConcatLast(tp, in["y"], in["x"], in["y"])
		},
		"dropout": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return applyMask(tp, in["x"], goldenMask(t, cases["dropout"]))
		},
		"drop_path": func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			return applyMask(tp, in["x"], goldenMask(t, cases["drop_path"]))
		},
	}
}

// goldenExtra decodes the tensor extra[name] of a case.
func goldenExtra(t *testing.T, c goldenCase, name string) goldenTensor {
	t.Helper()
	var g goldenTensor
	if err := json.Unmarshal(c.Extra[name], &g); err != nil || len(g.Data) == 0 {
		t.Fatalf("extra %s: %v", name, err)
	}
	return g
}

// goldenMask is the scaled mask Dropout and DropPath apply for a case's
// keep bits and drop rate p: 1/(1-p) where kept, 0 elsewhere.
func goldenMask(t *testing.T, c goldenCase) []float32 {
	t.Helper()
	var p float32
	if err := json.Unmarshal(c.Extra["p"], &p); err != nil {
		t.Fatal(err)
	}
	keep := goldenExtra(t, c, "keep").Data
	mask := make([]float32, len(keep))
	for i, k := range keep {
		if k != 0 {
			mask[i] = 1 / (1 - p)
		}
	}
	return mask
}

// TestDropoutMasksFromStream: Dropout and DropPath apply (as applyMask, which
// the golden cases check against PyTorch) the masks drawn from r in order,
// one draw per element or per sample, kept when the draw is at least p.
func TestDropoutMasksFromStream(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	x := randT(r, 4, 3, 5)
	for _, perSample := range []bool{false, true} {
		const p = 0.4
		draws := rand.New(rand.NewPCG(8, 9))
		n := x.Len()
		if perSample {
			n = x.Dim(0)
		}
		mask := make([]float32, n)
		for i := range mask {
			if draws.Float32() >= p {
				mask[i] = 1 / (1 - p)
			}
		}
		want := applyMask(NewTape(true), x, mask).Data
		var got *Tensor
		if perSample {
			got = DropPath(NewTape(true), x, p, rand.New(rand.NewPCG(8, 9)))
		} else {
			got = Dropout(NewTape(true), x, p, rand.New(rand.NewPCG(8, 9)))
		}
		if !slices.Equal(got.Data, want) {
			t.Errorf("per sample %v: output %v, want %v", perSample, got.Data, want)
		}
	}
}

// TestGoldenCoversEveryOp: every case of the fixture is run by some test.
func TestGoldenCoversEveryOp(t *testing.T) {
	run := map[string]bool{"batchnorm_train": true, "batchnorm_eval": true, "block_adapter": true}
	for name := range goldenOps(t, nil) {
		run[name] = true
	}
	for name := range loadGolden(t) {
		if !run[name] {
			t.Errorf("fixture case %s is not checked", name)
		}
	}
}

func TestGoldenBatchNorm(t *testing.T) {
	cases := loadGolden(t)
	for _, name := range []string{"batchnorm_train", "batchnorm_eval"} {
		c := cases[name]
		var rm, rv goldenTensor
		key := map[bool][2]string{true: {"running_mean_in", "running_var_in"}, false: {"running_mean", "running_var"}}[name == "batchnorm_train"]
		json.Unmarshal(c.Extra[key[0]], &rm)
		json.Unmarshal(c.Extra[key[1]], &rv)
		c8 := len(rm.Data)
		bn := NewBatchNorm("bn", c8)
		runGolden(t, name, c, func(tp *Tape, in map[string]*Tensor, ps map[string]*Param) *Tensor {
			copy(bn.RunningMean.Data, rm.Data)
			copy(bn.RunningVar.Data, rv.Data)
			bn.Weight, bn.Bias = ps["w"], ps["b"]
			tp.Train = name == "batchnorm_train"
			return bn.Forward(tp, in["x"])
		})
		if name == "batchnorm_train" {
			var mo, vo goldenTensor
			json.Unmarshal(c.Extra["running_mean_out"], &mo)
			json.Unmarshal(c.Extra["running_var_out"], &vo)
			checkClose(t, "running_mean", bn.RunningMean.Data, mo)
			checkClose(t, "running_var", bn.RunningVar.Data, vo)
		}
	}
}

// TestGoldenBlockAdapter runs a whole frozen pre-LN transformer block with a
// trainable adapter parallel to its MLP.
func TestGoldenBlockAdapter(t *testing.T) {
	c := loadGolden(t)["block_adapter"]
	var heads int
	json.Unmarshal(c.Extra["heads"], &heads)
	runGolden(t, "block_adapter", c, func(tp *Tape, in map[string]*Tensor, p map[string]*Param) *Tensor {
		x := in["x"]
		h := LayerNorm(tp, x, p["norm1.weight"], p["norm1.bias"], 1e-5)
		a := Attention(tp, Linear(tp, h, p["attn.qkv.weight"], nil), heads, 0)
		x = Add(tp, x, Linear(tp, a, p["attn.proj.weight"], p["attn.proj.bias"]))
		u := LayerNorm(tp, x, p["norm2.weight"], p["norm2.bias"], 1e-5)
		mlp := Linear(tp, GELU(tp, Linear(tp, u, p["mlp.fc1.weight"], p["mlp.fc1.bias"]), false), p["mlp.fc2.weight"], p["mlp.fc2.bias"])
		ad := Linear(tp, GELU(tp, Linear(tp, u, p["adapter.down.weight"], p["adapter.down.bias"]), false), p["adapter.up.weight"], p["adapter.up.bias"])
		return Add(tp, Add(tp, x, mlp), ad)
	})
}

// TestGoldenQuickGELUTight holds QuickGELU to 1e-6 (relative to each
// tensor's largest magnitude) rather than goldenTol: it is one element-wise
// function, which PyTorch's float32 computes that closely too.
func TestGoldenQuickGELUTight(t *testing.T) {
	c := loadGolden(t)["quick_gelu"]
	x := c.Inputs["x"].tensor()
	x.SetRequiresGrad(true)
	tp := NewTape(true)
	out := QuickGELU(tp, x)
	tp.Backward(DotConst(tp, out, c.R.Data))
	const tol = 1e-6
	t.Logf("output %.3g, dx %.3g", relDiff(out.Data, c.Output.Data), relDiff(x.Grad, c.Grads["x"].Data))
	if d := relDiff(out.Data, c.Output.Data); d > tol {
		t.Errorf("output: relative difference %.3g, want ≤ %g", d, tol)
	}
	if d := relDiff(x.Grad, c.Grads["x"].Data); d > tol {
		t.Errorf("dx: relative difference %.3g, want ≤ %g", d, tol)
	}
}

// TestGoldenChamferL2Tight holds ChamferL2 to 1e-6 (relative to each
// tensor's largest magnitude) rather than goldenTol: its distances are
// formed in float64 from the same float32 points as the float64 reference.
func TestGoldenChamferL2Tight(t *testing.T) {
	cases := loadGolden(t)
	for _, name := range []string{"chamfer_l2", "chamfer_l2_d5"} {
		c := cases[name]
		a, b := c.Inputs["a"].tensor(), c.Inputs["b"].tensor()
		a.SetRequiresGrad(true)
		b.SetRequiresGrad(true)
		tp := NewTape(true)
		out := ChamferL2(tp, a, b)
		tp.Backward(DotConst(tp, out, c.R.Data))
		const tol = 1e-6
		for _, o := range []struct {
			what      string
			got, want []float32
		}{{"output", out.Data, c.Output.Data}, {"da", a.Grad, c.Grads["a"].Data}, {"db", b.Grad, c.Grads["b"].Data}} {
			d := relDiff(o.got, o.want)
			t.Logf("%s %s: relative difference %.3g", name, o.what, d)
			if len(o.got) != len(o.want) || d > tol {
				t.Errorf("%s %s: relative difference %.3g (%d values, want %d), want ≤ %g", name, o.what, d, len(o.got), len(o.want), tol)
			}
		}
	}
}
