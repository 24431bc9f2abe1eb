package backbone

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_pointmae.py: a PyTorch re-implementation
// of Point-MAE's classifier, with weights from formulas both sides reproduce.

type gTensor = goldentest.Tensor

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
		goldentest.SinInit(m.Params(), norm)
	} else {
		goldentest.SplitmixInit(m.Params(), norm)
	}
	byName := goldentest.ByName(m.Params())
	goldentest.CheckFirst(t, "init", byName, c.ParamChecks, nil)
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
	g := GroupAt(goldentest.F32(in.Inputs.Points.Data), b, n, goldentest.I32(in.Inputs.CenterIdx.Data), goldentest.I32(in.Inputs.KnnIdx.Data),
		m.Cfg.NumGroup, m.Cfg.GroupSize)
	m.Params().ZeroGrad()
	tp := nn.NewTape(train)
	logits := m.Forward(tp, g, pointcloud.NewRand(1))
	goldentest.CloseTo(t, name+" logits", logits.Data, c.Logits, 1e-4)
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
		goldentest.CloseTo(t, name+" grad "+k, p.Grad, want, 1e-4)
	}
}

func TestGoldenPointMAETiny(t *testing.T) {
	cases := loadPointMAEGolden(t)
	c := cases["tiny_train"]
	m, byName := buildGolden(t, c, "splitmix")
	runCase(t, "tiny_train", c, c, m, byName, true)
	for k, want := range c.BuffersAfter {
		goldentest.CloseTo(t, "tiny_train buffer "+k, byName[k].Data, want, 1e-4)
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
	g := GroupAt(goldentest.F32(c.Inputs.Points.Data), 1, len(c.Inputs.Points.Data)/3, goldentest.I32(c.Inputs.CenterIdx.Data), goldentest.I32(c.Inputs.KnnIdx.Data), m.Cfg.NumGroup, m.Cfg.GroupSize)
	logits := m.Forward(nn.NoGrad(), g, nil)
	for i := range logits.Data {
		logits.Data[i] -= m.Head.FC8.Bias.Data[i]
	}
	goldentest.CloseTo(t, "full_eval logits minus head bias", logits.Data, f.Cases["full_eval"].L, 1e-4)
}
