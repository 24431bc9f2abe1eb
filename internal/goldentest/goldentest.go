// Package goldentest holds the helpers pcx's golden tests share: the
// fixture tensor format of scripts/golden_*.py, the weight formulas both the
// PyTorch scripts and Go reproduce, and tolerant comparison.
package goldentest

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/nn"
)

// Tensor is a fixture tensor: full data, or a summary (sums and samples).
type Tensor struct {
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

// SplitmixInit fills every parameter and buffer as the scripts' "splitmix"
// formula does (see scripts/golden_pointmae.py and golden_dapt.py).
func SplitmixInit(ps nn.Params, normWeights map[string]bool) {
	for _, p := range ps {
		h := uint64(0xcbf29ce484222325)
		for _, c := range []byte(p.Name) {
			h ^= uint64(c)
			h *= 0x100000001b3
		}
		sm := rng.SplitMix64{State: h}
		next := sm.Next
		a, b := 0.0, 0.0
		switch {
		case strings.HasSuffix(p.Name, "smoa.expert_embeddings"):
			b = 1
		case strings.HasSuffix(p.Name, ".pg_gamma"):
			a, b = 1, 0.2
		case strings.HasSuffix(p.Name, ".pg_beta"):
			b = 0.1
		case strings.Contains(p.Name, "tfts_gamma"):
			a, b = 1, 0.2
		case strings.Contains(p.Name, "tfts_beta"):
			b = 0.1
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

// SinInit fills parameters with the scripts' "sin" formula.
func SinInit(ps nn.Params, normWeights map[string]bool) {
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
			case strings.HasSuffix(p.Name, "smoa.expert_embeddings"):
				p.Data[i] = float32(s)
			case normWeights[p.Name] || strings.Contains(p.Name, "tfts_gamma") || strings.HasSuffix(p.Name, ".pg_gamma"):
				p.Data[i] = float32(1 + 0.02*s)
			default:
				p.Data[i] = float32(0.02 * s)
			}
		}
	}
}

// F32 converts fixture values to float32.
func F32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// I32 converts fixture indices.
func I32(v []float64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// CloseTo compares got with a full or summarised reference tensor, relative
// to the reference's largest magnitude.
func CloseTo(t *testing.T, what string, got []float32, want Tensor, tol float64) {
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

// ByName indexes parameters by their state-dict key.
func ByName(ps nn.Params) map[string]*nn.Param {
	m := make(map[string]*nn.Param, len(ps))
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

// CheckFirst compares, for every fixture key except those in skip, the
// first values the fixture recorded with the model's (its initialisation
// formula reproduced): a fixture key the model lacks is an error.
func CheckFirst(t *testing.T, name string, byName map[string]*nn.Param, checks map[string]Tensor, skip func(string) bool) {
	t.Helper()
	for k, pc := range checks {
		if skip != nil && skip(k) {
			continue
		}
		p, ok := byName[k]
		if !ok {
			t.Errorf("%s: the fixture has %s, the model does not", name, k)
			continue
		}
		for i, v := range pc.First {
			if math.Abs(float64(p.Data[i])-v) > 1e-6*math.Max(1, math.Abs(v)) {
				t.Fatalf("%s: %s[%d] = %v, fixture %v", name, k, i, p.Data[i], v)
			}
		}
	}
}

// Read decodes the fixture testdata/golden/name (read from a package one
// folder below the module root, as every golden test is) into v.
func Read(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
