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

// Golden fixtures from scripts/golden_daptx.py: a PyTorch DAPT-X written
// from the semantics in daptx.go, weights from the shared splitmix formula.

type daptxCase struct {
	daptCase
	Config struct {
		TransDim  int `json:"trans_dim"`
		Depth     int `json:"depth"`
		Heads     int `json:"num_heads"`
		Classes   int `json:"cls_dim"`
		B         int `json:"B"`
		N         int `json:"N"`
		NumGroup  int `json:"num_group"`
		GroupSize int `json:"group_size"`
		Rank      int `json:"rank"`
		SMoAHeads int `json:"smoa_heads"`
		Experts   int `json:"num_experts"`
		// KeepDAPT and AdapterRank: the tiny_keepdapt_train case.
		KeepDAPT    bool `json:"keep_dapt"`
		AdapterRank int  `json:"adapter_rank"`
	} `json:"config"`
	CELoss       float64 `json:"ce_loss"`
	BalanceLoss  float64 `json:"balance_loss"`
	ExpertCounts [][]int `json:"expert_counts"`
}

// loadDAPTXGolden reads testdata/golden/daptx.json and returns its case
// parser: the DAPT fields and DAPT-X's own of the named case.
func loadDAPTXGolden(t *testing.T) func(name string) daptxCase {
	t.Helper()
	b, err := os.ReadFile("../testdata/golden/daptx.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases map[string]json.RawMessage `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return func(name string) daptxCase {
		var c daptxCase
		if err := json.Unmarshal(f.Cases[name], &c.daptCase); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(f.Cases[name], &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func TestGoldenDAPTX(t *testing.T) {
	parse := loadDAPTXGolden(t)
	base := parse("tiny_train")
	for _, tc := range []struct {
		name  string
		train bool
	}{{"tiny_train", true}, {"tiny_eval", false}, {"tiny_keepdapt_train", true}} {
		c := parse(tc.name)
		// model is the case with the model's description: its own, or
		// tiny_train's (tiny_eval runs tiny_train's model in eval mode).
		model := c
		if c.Config.TransDim == 0 {
			model = base
		}
		bc := model.Config
		experts := bc.Experts
		if experts == 0 {
			experts = 4
		}
		cfg := DAPTXConfig{DAPTConfig: DAPTConfig{Config: backbone.Config{TransDim: bc.TransDim, Depth: bc.Depth, Heads: bc.Heads,
			Classes: bc.Classes, NumGroup: bc.NumGroup, GroupSize: bc.GroupSize}, Rank: bc.Rank, Head: HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}},
			SMoAHeads: bc.SMoAHeads, Experts: experts, Alpha: 0.01, KeepDAPT: bc.KeepDAPT, AdapterRank: bc.AdapterRank}
		d, err := NewDAPTX(cfg, pointcloud.NewRand(0))
		if err != nil {
			t.Fatal(err)
		}
		norm := map[string]bool{}
		for _, k := range model.NormWeightKeys {
			norm[k] = true
		}
		goldentest.SplitmixInit(d.Params(), norm)
		byName := goldentest.ByName(d.Params())
		goldentest.CheckFirst(t, tc.name, byName, model.ParamChecks, nil)
		if len(byName) != len(model.ParamChecks) {
			t.Errorf("%s: model has %d state entries, fixture %d", tc.name, len(byName), len(model.ParamChecks))
		}
		tunable := map[string]bool{}
		for _, k := range model.TrainableKeys {
			tunable[k] = true
			if p := byName[k]; p == nil || !p.Trainable {
				t.Errorf("%s: %s should be tunable", tc.name, k)
			}
		}
		for _, p := range d.Params() {
			if p.Trainable && !tunable[p.Name] {
				t.Errorf("%s: %s is tunable, PyTorch's is frozen", tc.name, p.Name)
			}
		}
		in := base.Inputs
		g := backbone.GroupAt(goldentest.F32(in.Points.Data), bc.B, bc.N, goldentest.I32(in.CenterIdx.Data),
			goldentest.I32(in.KnnIdx.Data), bc.NumGroup, bc.GroupSize)
		d.SMoA.Stats = &RoutingStats{}
		tp := nn.NewTape(tc.train)
		logits, bal := d.ForwardAux(tp, g, pointcloud.NewRand(1))
		goldentest.CloseTo(t, tc.name+" logits", logits.Data, c.Logits, 1e-4)
		if c.BalanceLoss != 0 && math.Abs(float64(bal.Data[0])-c.BalanceLoss) > 1e-4*math.Max(1, c.BalanceLoss) {
			t.Errorf("%s: balance loss %v, want %v", tc.name, bal.Data[0], c.BalanceLoss)
		}
		loss := daptxLoss(tp, logits, bal, d.Cfg.Alpha, in.Labels)
		if math.Abs(float64(loss.Data[0])-c.Loss) > 1e-4*math.Max(1, c.Loss) {
			t.Errorf("%s: loss %v, want %v", tc.name, loss.Data[0], c.Loss)
		}
		for blk, want := range c.ExpertCounts {
			for p, n := range want {
				if got := d.SMoA.Stats.Counts[blk][p]; got != n {
					t.Errorf("%s: block %d expert %d received %d sub-tokens, want %d", tc.name, blk, p, got, n)
				}
			}
		}
		tp.Backward(loss)
		for k, want := range c.Grads {
			p := byName[k]
			if p == nil || p.Grad == nil {
				t.Errorf("%s: no gradient for %s", tc.name, k)
				continue
			}
			goldentest.CloseTo(t, tc.name+" grad "+k, p.Grad, want, 1e-4)
		}
		for _, p := range d.Params() {
			if !p.Trainable && p.Grad != nil {
				t.Errorf("%s: frozen %s got a gradient", tc.name, p.Name)
			}
		}
	}
}
