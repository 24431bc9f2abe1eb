package adapters

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_dapt.py: a PyTorch DAPT written from
// LMD0311/DAPT's models/DAPT.py, weights from the shared splitmix formula.

type daptCase struct {
	Config struct {
		TransDim  int    `json:"trans_dim"`
		Depth     int    `json:"depth"`
		Heads     int    `json:"num_heads"`
		Classes   int    `json:"cls_dim"`
		B         int    `json:"B"`
		N         int    `json:"N"`
		NumGroup  int    `json:"num_group"`
		GroupSize int    `json:"group_size"`
		Rank      int    `json:"rank"`
		Prompt    string `json:"prompt_token"`
		Patch     string `json:"patch_token"`
	} `json:"config"`
	NormWeightKeys []string                     `json:"norm_weight_keys"`
	TrainableKeys  []string                     `json:"trainable_keys"`
	ParamChecks    map[string]goldentest.Tensor `json:"param_checks"`
	Inputs         struct {
		Points    goldentest.Tensor `json:"points"`
		CenterIdx goldentest.Tensor `json:"center_idx"`
		KnnIdx    goldentest.Tensor `json:"knn_idx"`
		Labels    []int             `json:"labels"`
	} `json:"inputs"`
	Logits       goldentest.Tensor            `json:"logits"`
	Loss         float64                      `json:"loss"`
	Grads        map[string]goldentest.Tensor `json:"grads"`
	BuffersAfter map[string]goldentest.Tensor `json:"buffers_after"`
}

func loadDAPTGolden(t *testing.T) map[string]daptCase {
	t.Helper()
	b, err := os.ReadFile("../testdata/golden/dapt.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases map[string]daptCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

func tokenKind(s string) string {
	if s == "None" {
		return ""
	}
	return s
}

// runDAPTCase builds DAPT from the fixture config (shape from c, weights
// and inputs from base), runs it and compares logits, loss, the gradient of
// every tunable parameter and the BatchNorm buffers.
func runDAPTCase(t *testing.T, name string, c, base daptCase, train bool) {
	t.Helper()
	cfg := DAPTConfig{Config: backbone.Config{TransDim: base.Config.TransDim, Depth: base.Config.Depth, Heads: base.Config.Heads,
		Classes: base.Config.Classes, NumGroup: base.Config.NumGroup, GroupSize: base.Config.GroupSize},
		Rank: base.Config.Rank, Head: HeadTokens{Cls: true, Prompt: tokenKind(base.Config.Prompt), Patch: tokenKind(base.Config.Patch)}}
	if c.Config.TransDim != 0 {
		cfg.Head = HeadTokens{Cls: true, Prompt: tokenKind(c.Config.Prompt), Patch: tokenKind(c.Config.Patch)}
	}
	d, err := NewDAPT(cfg, pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	norm := map[string]bool{}
	for _, k := range base.NormWeightKeys {
		norm[k] = true
	}
	goldentest.SplitmixInit(d.Params(), norm)
	byName := goldentest.ByName(d.Params())
	goldentest.CheckFirst(t, name, byName, base.ParamChecks, func(k string) bool {
		_, own := c.ParamChecks[k]
		return own && c.Config.TransDim != 0 // the case's own shape and values for this key
	})
	goldentest.CheckFirst(t, name, byName, c.ParamChecks, nil)
	if len(byName) != len(base.ParamChecks) {
		t.Errorf("%s: model has %d state entries, fixture %d", name, len(byName), len(base.ParamChecks))
	}
	for _, k := range base.TrainableKeys {
		if p := byName[k]; p == nil || !p.Trainable {
			t.Errorf("%s: %s should be tunable", name, k)
		}
	}
	in := base.Inputs
	g := backbone.GroupAt(goldentest.F32(in.Points.Data), base.Config.B, base.Config.N, goldentest.I32(in.CenterIdx.Data),
		goldentest.I32(in.KnnIdx.Data), cfg.NumGroup, cfg.GroupSize)
	tp := nn.NewTape(train)
	logits := d.Forward(tp, g, pointcloud.NewRand(1))
	goldentest.CloseTo(t, name+" logits", logits.Data, c.Logits, 1e-4)
	loss := nn.CrossEntropy(tp, logits, in.Labels, 0)
	if math.Abs(float64(loss.Data[0])-c.Loss) > 1e-4*math.Max(1, c.Loss) {
		t.Errorf("%s: loss %v, want %v", name, loss.Data[0], c.Loss)
	}
	tp.Backward(loss)
	for k, want := range c.Grads {
		p := byName[k]
		if p == nil || p.Grad == nil {
			t.Errorf("%s: no gradient for %s", name, k)
			continue
		}
		goldentest.CloseTo(t, name+" grad "+k, p.Grad, want, 1e-4)
	}
	for _, p := range d.Params() {
		if !p.Trainable && p.Grad != nil {
			t.Errorf("%s: frozen %s got a gradient", name, p.Name)
		}
	}
	for k, want := range c.BuffersAfter {
		goldentest.CloseTo(t, name+" buffer "+k, byName[k].Data, want, 1e-4)
	}
}

func TestGoldenDAPT(t *testing.T) {
	cases := loadDAPTGolden(t)
	base := cases["tiny_train"]
	runDAPTCase(t, "tiny_train", base, base, true)
	runDAPTCase(t, "tiny_eval", cases["tiny_eval"], base, false)
	runDAPTCase(t, "tiny_objonly_train", cases["tiny_objonly_train"], base, true)
}
