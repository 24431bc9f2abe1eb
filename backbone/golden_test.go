package backbone

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_pointmae.py: a PyTorch re-implementation
// of Point-MAE's classifier, with weights from formulas both sides reproduce.

type gTensor struct {
	Shape  []int     `json:"shape"`
	Data   []float64 `json:"data"`
	Numel  int       `json:"numel"`
	Sum    float64   `json:"sum"`
	AbsSum float64   `json:"abs_sum"`
	SqSum  float64   `json:"sq_sum"`
	Idx    []int     `json:"sample_idx"`
	Sample []float64 `json:"sample"`
	First  []float64 `json:"first"`
}

type gCase struct {
	Config struct {
		TransDim  int `json:"trans_dim"`
		Depth     int `json:"depth"`
		Heads     int `json:"num_heads"`
		Classes   int `json:"cls_dim"`
		B         int `json:"B"`
		N         int `json:"N"`
		NumGroup  int `json:"num_group"`
		GroupSize int `json:"group_size"`
	} `json:"config"`
	Mode           string             `json:"mode"`
	NormWeightKeys []string           `json:"norm_weight_keys"`
	ParamChecks    map[string]gTensor `json:"param_checks"`
	Inputs         struct {
		Points    gTensor `json:"points"`
		CenterIdx gTensor `json:"center_idx"`
		KnnIdx    gTensor `json:"knn_idx"`
		Labels    []int   `json:"labels"`
	} `json:"inputs"`
	Logits       gTensor            `json:"logits"`
	Loss         float64            `json:"loss"`
	Grads        map[string]gTensor `json:"grads"`
	BuffersAfter map[string]gTensor `json:"buffers_after"`
}

func loadPointMAEGolden(t *testing.T) map[string]gCase {
	t.Helper()
	b, err := os.ReadFile("../testdata/golden/pointmae.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases map[string]gCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

// splitmixInit fills every parameter and buffer as the script's "splitmix"
// formula does.
func splitmixInit(ps nn.Params, normWeights map[string]bool) {
	for _, p := range ps {
		h := uint64(0xcbf29ce484222325)
		for _, c := range []byte(p.Name) {
			h ^= uint64(c)
			h *= 0x100000001b3
		}
		state := h
		next := func() uint64 {
			state += 0x9E3779B97F4A7C15
			z := state
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
			z = (z ^ (z >> 27)) * 0x94D049BB133111EB
			return z ^ (z >> 31)
		}
		a, b := 0.0, 0.0
		switch {
		case strings.HasSuffix(p.Name, "num_batches_tracked"):
			p.Data[0] = 0
			continue
		case strings.HasSuffix(p.Name, "running_mean"):
			b = 0.1
		case strings.HasSuffix(p.Name, "running_var"):
			a, b = 1, 0.5
		case strings.HasSuffix(p.Name, "bias"):
			b = 0.1
		case p.Name == "cls_token" || p.Name == "cls_pos":
			b = 0.5
		case normWeights[p.Name]:
			a, b = 1, 0.2
		default: // Linear / Conv1d weight: fan_in = in channels
			b = math.Sqrt(3 / float64(p.Shape[1]))
		}
		for i := range p.Data {
			r := float64(next()>>11)*0x1p-53*2 - 1
			p.Data[i] = float32(a + float64(b*r))
		}
	}
}

func sinInit(ps nn.Params, normWeights map[string]bool) {
	for _, p := range ps {
		hk := 0
		for _, c := range []byte(p.Name) {
			hk += int(c)
		}
		hk %= 97
		for i := range p.Data {
			s := math.Sin(float64(i)*0.37 + float64(hk))
			switch {
			case strings.HasSuffix(p.Name, "num_batches_tracked"):
				p.Data[i] = 0
			case strings.HasSuffix(p.Name, "running_var"):
				p.Data[i] = float32(1 + 0.5*math.Abs(math.Sin(float64(i)+float64(hk))))
			case normWeights[p.Name]:
				p.Data[i] = float32(1 + 0.02*s)
			default:
				p.Data[i] = float32(0.02 * s)
			}
		}
	}
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func i32(v []float64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// closeTo compares got with a full or summarised reference tensor, relative
// to the reference's largest magnitude.
func closeTo(t *testing.T, what string, got []float32, want gTensor, tol float64) {
	t.Helper()
	ref, idx := want.Data, []int(nil)
	if ref == nil {
		ref, idx = want.Sample, want.Idx
	}
	m := 1e-12
	for _, v := range ref {
		m = math.Max(m, math.Abs(v))
	}
	worst := 0.0
	for j, v := range ref {
		i := j
		if idx != nil {
			i = idx[j]
		}
		if i >= len(got) {
			t.Errorf("%s: %d values, reference index %d", what, len(got), i)
			return
		}
		worst = math.Max(worst, math.Abs(float64(got[i])-v)/m)
	}
	if want.Data == nil && want.Numel > 0 {
		// A summary: samples may all be zero (a dead ReLU channel) while the
		// tensor is not; scale by the tensor's RMS too.
		m = math.Max(m, math.Sqrt(want.SqSum/float64(want.Numel)))
	}
	if m < 1e-10 {
		// A gradient that is exactly zero in exact arithmetic (a bias feeding
		// a training-mode BatchNorm, whose mean subtraction cancels it): the
		// float64 reference is rounding noise, so require float32 noise.
		for _, v := range got {
			if math.Abs(float64(v)) > 1e-6 {
				t.Errorf("%s: %v where the reference is zero", what, v)
				return
			}
		}
		return
	}
	if want.Data == nil && want.AbsSum > 0 {
		var abs float64
		for _, v := range got {
			abs += math.Abs(float64(v))
		}
		worst = math.Max(worst, math.Abs(abs-want.AbsSum)/want.AbsSum)
	}
	if worst > tol {
		t.Errorf("%s: relative difference %.3g", what, worst)
	}
}

func buildGolden(t *testing.T, c gCase, init string) (*PointMAE, map[string]*nn.Param) {
	t.Helper()
	cfg := Config{TransDim: c.Config.TransDim, Depth: c.Config.Depth, Heads: c.Config.Heads, Classes: c.Config.Classes,
		NumGroup: c.Config.NumGroup, GroupSize: c.Config.GroupSize, PosEveryBlock: true}
	m, err := NewPointMAE(cfg, pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	norm := map[string]bool{}
	for _, k := range c.NormWeightKeys {
		norm[k] = true
	}
	if init == "sin" {
		sinInit(m.Params(), norm)
	} else {
		splitmixInit(m.Params(), norm)
	}
	byName := map[string]*nn.Param{}
	for _, p := range m.Params() {
		byName[p.Name] = p
		if pc, ok := c.ParamChecks[p.Name]; ok && len(pc.First) > 0 {
			for i, v := range pc.First {
				if math.Abs(float64(p.Data[i])-v) > 1e-6*math.Max(1, math.Abs(v)) {
					t.Fatalf("%s init: value %d is %v, fixture %v", p.Name, i, p.Data[i], v)
				}
			}
		}
	}
	if len(byName) != len(c.ParamChecks) && len(c.ParamChecks) > 0 {
		t.Errorf("model has %d state entries, fixture %d", len(byName), len(c.ParamChecks))
	}
	return m, byName
}

// runCase feeds a case's inputs through m in its mode and checks logits,
// loss and, when the case has them, gradients of every parameter.
func runCase(t *testing.T, name string, c, in gCase, m *PointMAE, byName map[string]*nn.Param, train bool) {
	t.Helper()
	b, n := in.Config.B, in.Config.N
	if b == 0 {
		b, n = c.Config.B, c.Config.N
	}
	g := GroupAt(f32(in.Inputs.Points.Data), b, n, i32(in.Inputs.CenterIdx.Data), i32(in.Inputs.KnnIdx.Data),
		m.Cfg.NumGroup, m.Cfg.GroupSize)
	m.Params().ZeroGrad()
	tp := nn.NewTape(train)
	logits := m.Forward(tp, g, pointcloud.NewRand(1))
	closeTo(t, name+" logits", logits.Data, c.Logits, 1e-4)
	if in.Inputs.Labels == nil {
		return
	}
	loss := nn.CrossEntropy(tp, logits, in.Inputs.Labels, 0)
	if d := math.Abs(float64(loss.Data[0])-c.Loss) / math.Max(1, math.Abs(c.Loss)); d > 1e-4 {
		t.Errorf("%s loss %v, want %v", name, loss.Data[0], c.Loss)
	}
	tp.Backward(loss)
	for k, want := range c.Grads {
		p, ok := byName[k]
		if !ok {
			t.Errorf("%s: fixture gradient for unknown %s", name, k)
			continue
		}
		if p.Grad == nil {
			t.Errorf("%s: no gradient for %s", name, k)
			continue
		}
		closeTo(t, name+" grad "+k, p.Grad, want, 1e-4)
	}
}

func TestGoldenPointMAETiny(t *testing.T) {
	cases := loadPointMAEGolden(t)
	c := cases["tiny_train"]
	m, byName := buildGolden(t, c, "splitmix")
	runCase(t, "tiny_train", c, c, m, byName, true)
	for k, want := range c.BuffersAfter {
		closeTo(t, "tiny_train buffer "+k, byName[k].Data, want, 1e-4)
	}
	// Evaluation uses the initial running statistics: rebuild the weights.
	e := cases["tiny_eval"]
	m2, byName2 := buildGolden(t, c, "splitmix")
	runCase(t, "tiny_eval", e, c, m2, byName2, false)
}

func TestGoldenPointMAEFull(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size Point-MAE forward in -short mode")
	}
	c := loadPointMAEGolden(t)["full_eval"]
	m, byName := buildGolden(t, c, "sin")
	runCase(t, "full_eval", c, c, m, byName, false)
	// The small sin weights make the head bias half of each logit; check
	// the rest on its own.
	var f struct {
		Cases map[string]struct {
			L gTensor `json:"logits_minus_head_bias"`
		} `json:"cases"`
	}
	b, _ := os.ReadFile("../testdata/golden/pointmae.json")
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	g := GroupAt(f32(c.Inputs.Points.Data), 1, len(c.Inputs.Points.Data)/3, i32(c.Inputs.CenterIdx.Data), i32(c.Inputs.KnnIdx.Data), m.Cfg.NumGroup, m.Cfg.GroupSize)
	logits := m.Forward(nn.NoGrad(), g, nil)
	for i := range logits.Data {
		logits.Data[i] -= m.Head.FC8.Bias.Data[i]
	}
	closeTo(t, "full_eval logits minus head bias", logits.Data, f.Cases["full_eval"].L, 1e-4)
}
