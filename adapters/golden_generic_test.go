package adapters

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_generic.py: PyTorch serial adapter,
// AdaptFormer and their -X forms on a shared SMoA, written from the
// adapters' semantics, two blocks chained, weights from the splitmix
// formula.

type genericCase struct {
	Config struct {
		Kind             string  `json:"kind"`
		Dim              int     `json:"dim"`
		SMoAHeads        int     `json:"smoa_heads"`
		Experts          int     `json:"num_experts"`
		Rank             int     `json:"rank"`
		SerialWidth      int     `json:"serial_width"`
		AdaptFormerWidth int     `json:"adaptformer_width"`
		Scale            float32 `json:"scale"`
		Dropout          float32 `json:"dropout"`
		EvalDropout      float32 `json:"eval_dropout"`
		Blocks           int     `json:"blocks"`
		B                int     `json:"B"`
		T                int     `json:"T"`
		PerBlockRouters  bool    `json:"per_block_routers"`
		Top1             bool    `json:"top1"`
	} `json:"config"`
	ParamChecks   map[string]goldentest.Tensor `json:"param_checks"`
	Output        goldentest.Tensor            `json:"output"`
	Loss          float64                      `json:"loss"`
	Grads         map[string]goldentest.Tensor `json:"grads"`
	BalanceLosses []float64                    `json:"balance_losses"`
	ExpertCounts  [][]int                      `json:"expert_counts"`
}

// genericChain is a case's two blocks: step(tp, h, i) returns block i's
// output and its balance loss (nil for the plain forms).
type genericChain struct {
	params nn.Params
	smoa   *SMoA
	step   func(tp *nn.Tape, h *nn.Tensor, i int) (*nn.Tensor, *nn.Tensor)
}

// newGenericChain builds the case's adapters; dropout is AdaptFormer's.
func newGenericChain(t *testing.T, c genericCase, dropout float32) genericChain {
	t.Helper()
	cf := c.Config
	r := pointcloud.NewRand(0)
	var ch genericChain
	switch cf.Kind {
	case "serial":
		var as []*SerialAdapter
		for i := 0; i < cf.Blocks; i++ {
			a := NewSerialAdapter(fmt.Sprintf("adapter.%d", i), cf.Dim, cf.SerialWidth, r)
			as = append(as, a)
			ch.params = append(ch.params, a.Params()...)
		}
		ch.step = func(tp *nn.Tape, h *nn.Tensor, i int) (*nn.Tensor, *nn.Tensor) { return as[i].Forward(tp, h), nil }
	case "adaptformer":
		var as []*AdaptFormer
		for i := 0; i < cf.Blocks; i++ {
			a := NewAdaptFormer(fmt.Sprintf("adaptmlp.%d", i), cf.Dim, cf.AdaptFormerWidth, cf.Scale, dropout, r)
			as = append(as, a)
			ch.params = append(ch.params, a.Params()...)
		}
		ch.step = func(tp *nn.Tape, h *nn.Tensor, i int) (*nn.Tensor, *nn.Tensor) {
			return nn.Add(tp, h, as[i].Forward(tp, h, r)), nil
		}
	case "serial_x", "adaptformer_x":
		s, err := NewSMoA("smoa", cf.Dim, cf.SMoAHeads, cf.Experts, cf.Rank, r)
		if err != nil {
			t.Fatal(err)
		}
		if cf.PerBlockRouters {
			s.UsePerBlockRouters("smoa", cf.Blocks, r)
		}
		s.Top1 = cf.Top1
		ch.smoa, ch.params = s, s.Params()
		if cf.Kind == "serial_x" {
			a := &SerialAdapterX{SMoA: s}
			ch.step = func(tp *nn.Tape, h *nn.Tensor, i int) (*nn.Tensor, *nn.Tensor) { return a.Forward(tp, h, i) }
		} else {
			a := &AdaptFormerX{SMoA: s, Scale: cf.Scale}
			ch.step = func(tp *nn.Tape, h *nn.Tensor, i int) (*nn.Tensor, *nn.Tensor) {
				y, l := a.Forward(tp, h, i)
				return nn.Add(tp, h, y), l
			}
		}
	default:
		t.Fatalf("unknown adapter kind %q", cf.Kind)
	}
	goldentest.SplitmixInit(ch.params, nil)
	return ch
}

func TestGoldenGeneric(t *testing.T) {
	b, err := os.ReadFile("../testdata/golden/generic.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Inputs struct {
			X goldentest.Tensor `json:"x"`
			W goldentest.Tensor `json:"w"`
		} `json:"inputs"`
		Cases map[string]genericCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) != 5 {
		t.Fatalf("%d cases, want 5", len(f.Cases))
	}
	w := goldentest.F32(f.Inputs.W.Data)
	for name, c := range f.Cases {
		// Training with dropout 0 and evaluation with AdaptFormer's dropout
		// 0.1 (inactive) must both give PyTorch's numbers.
		for _, train := range []bool{true, false} {
			what := fmt.Sprintf("%s train=%v", name, train)
			dropout := c.Config.Dropout
			if !train {
				dropout = c.Config.EvalDropout
			}
			ch := newGenericChain(t, c, dropout)
			byName := goldentest.ByName(ch.params)
			goldentest.CheckFirst(t, what, byName, c.ParamChecks, nil)
			if len(byName) != len(c.ParamChecks) {
				t.Errorf("%s: %d parameters, fixture %d", what, len(byName), len(c.ParamChecks))
			}
			if ch.smoa != nil {
				ch.smoa.Stats = &RoutingStats{}
			}
			x := nn.FromData(goldentest.F32(f.Inputs.X.Data), f.Inputs.X.Shape...)
			x.SetRequiresGrad(true)
			tp := nn.NewTape(train)
			h := x
			var bal []*nn.Tensor
			for i := 0; i < c.Config.Blocks; i++ {
				var l *nn.Tensor
				h, l = ch.step(tp, h, i)
				if l != nil {
					bal = append(bal, l)
				}
			}
			goldentest.CloseTo(t, what+" output", h.Data, c.Output, 1e-4)
			loss := nn.DotConst(tp, h, w)
			for i, l := range bal {
				if want := c.BalanceLosses[i]; math.Abs(float64(l.Data[0])-want) > 1e-4*math.Max(1, want) {
					t.Errorf("%s: block %d balance loss %v, want %v", what, i, l.Data[0], want)
				}
				loss = nn.Add(tp, loss, l)
			}
			if len(bal) != len(c.BalanceLosses) {
				t.Errorf("%s: %d balance losses, fixture %d", what, len(bal), len(c.BalanceLosses))
			}
			if math.Abs(float64(loss.Data[0])-c.Loss) > 1e-4*math.Max(1, math.Abs(c.Loss)) {
				t.Errorf("%s: loss %v, want %v", what, loss.Data[0], c.Loss)
			}
			for blk, want := range c.ExpertCounts {
				for p, n := range want {
					if got := ch.smoa.Stats.Counts[blk][p]; got != n {
						t.Errorf("%s: block %d expert %d received %d sub-tokens, want %d", what, blk, p, got, n)
					}
				}
			}
			tp.Backward(loss)
			goldentest.CloseTo(t, what+" grad x", x.Grad, c.Grads["x"], 1e-4)
			for _, p := range ch.params {
				want, ok := c.Grads[p.Name]
				if !ok || p.Grad == nil {
					t.Errorf("%s: %s: fixture has its gradient %v, Go computed one %v", what, p.Name, ok, p.Grad != nil)
					continue
				}
				goldentest.CloseTo(t, what+" grad "+p.Name, p.Grad, want, 1e-4)
			}
			if len(c.Grads) != len(ch.params)+1 {
				t.Errorf("%s: fixture has %d gradients, the chain %d parameters and x", what, len(c.Grads), len(ch.params))
			}
		}
	}
}
