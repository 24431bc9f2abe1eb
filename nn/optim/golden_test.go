package optim

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/nn"
)

// optimFixture is testdata/golden/optim.json, written by
// scripts/golden_optim.py from torch.optim.AdamW,
// torch.nn.utils.clip_grad_norm_ and the warm-up + cosine schedule.
type optimFixture struct {
	Schedules []struct {
		Base       float64   `json:"base"`
		Min        float64   `json:"min"`
		WarmupInit float64   `json:"warmup_init"`
		Warmup     float64   `json:"warmup"`
		Total      float64   `json:"total"`
		T          []float64 `json:"t"`
		LR         []float64 `json:"lr"`
	} `json:"schedules"`
	AdamW struct {
		Betas       [2]float64           `json:"betas"`
		Eps         float64              `json:"eps"`
		WeightDecay float64              `json:"weight_decay"`
		MaxNorm     float64              `json:"max_norm"`
		Shapes      map[string][]int     `json:"shapes"`
		NoDecay     map[string]bool      `json:"no_decay"`
		Init        map[string][]float32 `json:"init"`
		Steps       []struct {
			LR     float64              `json:"lr"`
			Norm   float64              `json:"norm"`
			Grads  map[string][]float32 `json:"grads"`
			Params map[string][]float32 `json:"params"`
		} `json:"steps"`
		State map[string][]float32 `json:"state"`
	} `json:"adamw"`
}

func loadOptimFixture(t *testing.T) *optimFixture {
	t.Helper()
	b, err := os.ReadFile("../../testdata/golden/optim.json")
	if err != nil {
		t.Fatal(err)
	}
	var f optimFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Schedules) == 0 || len(f.AdamW.Steps) == 0 {
		t.Fatal("empty fixture: rerun scripts/golden_optim.py")
	}
	return &f
}

// TestGoldenCosine: Cosine.LR agrees with the fixture's schedule (torch's
// LinearLR and CosineAnnealingLR combined as timm's CosineLRScheduler) at
// every time it lists, warm-up, cosine and after the end alike.
func TestGoldenCosine(t *testing.T) {
	f := loadOptimFixture(t)
	for _, s := range f.Schedules {
		c := Cosine{Base: s.Base, Min: s.Min, WarmupInit: s.WarmupInit, Warmup: s.Warmup, Total: s.Total}
		for i, tt := range s.T {
			if got := c.LR(tt); math.Abs(got-s.LR[i]) > 1e-12*s.Base {
				t.Errorf("%+v: LR(%v) = %.17g, want %.17g", c, tt, got, s.LR[i])
			}
		}
	}
	if s := f.Schedules[0]; PointMAECosine(s.Base) != (Cosine{Base: s.Base, Min: s.Min, WarmupInit: s.WarmupInit, Warmup: s.Warmup, Total: s.Total}) {
		t.Errorf("PointMAECosine(%g) = %+v, the fixture's Point-MAE schedule %+v", s.Base, PointMAECosine(s.Base), s)
	}
}

// TestGoldenAdamWClip: steps of ClipGradNorm and AdamW with gradients that
// change from step to step (some clipped, some not) and learning rates from
// the schedule track torch's weights after every step, and end with its
// moments. Updates are about lr = 0.1 on weights of about 1, so a wrong
// beta, eps, bias correction or decay shows far above the tolerance.
func TestGoldenAdamWClip(t *testing.T) {
	f := loadOptimFixture(t).AdamW
	var ps nn.Params
	byName := map[string]*nn.Param{}
	for name, shape := range f.Shapes {
		p := &nn.Param{Tensor: nn.FromData(append([]float32(nil), f.Init[name]...), shape...), Name: name, Trainable: true}
		if NoDecay(p) != f.NoDecay[name] {
			t.Errorf("%s %v: NoDecay %v, Point-MAE's rule %v", name, shape, NoDecay(p), f.NoDecay[name])
		}
		ps = append(ps, p)
		byName[name] = p
	}
	o := NewAdamW(ps, f.WeightDecay)
	if o.Beta1 != f.Betas[0] || o.Beta2 != f.Betas[1] || o.Eps != f.Eps {
		t.Errorf("AdamW defaults (%g, %g, %g), torch's (%g, %g, %g)", o.Beta1, o.Beta2, o.Eps, f.Betas[0], f.Betas[1], f.Eps)
	}
	const tol = 2e-6
	for i, st := range f.Steps {
		for name, p := range byName {
			p.Grad = append([]float32(nil), st.Grads[name]...)
		}
		norm := ClipGradNorm(ps, f.MaxNorm)
		if math.Abs(norm-st.Norm) > 1e-6*st.Norm {
			t.Errorf("step %d: norm %.9g, torch %.9g", i+1, norm, st.Norm)
		}
		o.Step(st.LR)
		for name, p := range byName {
			for j, want := range st.Params[name] {
				if d := math.Abs(float64(p.Data[j]) - float64(want)); d > tol*math.Max(1, math.Abs(float64(want))) {
					t.Fatalf("step %d (lr %g, norm %.3g): %s[%d] = %.8g, torch %.8g", i+1, st.LR, st.Norm, name, j, p.Data[j], want)
				}
			}
		}
	}
	state := o.State()
	if len(state) != len(f.State) {
		t.Errorf("State has %d buffers, torch %d", len(state), len(f.State))
	}
	for name, want := range f.State {
		got := state[name]
		if len(got) != len(want) {
			t.Errorf("%s: %d values, want %d", name, len(got), len(want))
			continue
		}
		for j := range want {
			if d := math.Abs(float64(got[j]) - float64(want[j])); d > 1e-5*math.Max(1e-3, math.Abs(float64(want[j]))) {
				t.Errorf("%s[%d] = %.8g, torch %.8g", name, j, got[j], want[j])
			}
		}
	}
}
