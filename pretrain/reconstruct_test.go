package pretrain

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/train"
)

// TestReconstruct: the visible groups are the input's unmasked groups and
// the predictions the model's rebuilt points plus their centres, in counts
// the configuration gives; the result depends on the model and data only.
func TestReconstruct(t *testing.T) {
	c := tiny(1)
	data := tinyData(t)
	m, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(3, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	task := &Task{Model: m, Data: data, UseTest: true}
	tb, err := task.Batch(train.TrainSplit, []int{0, 3, 5}, train.Stream(4, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	b := tb.(*Batch)
	recs, err := Reconstruct(m, b)
	if err != nil {
		t.Fatal(err)
	}
	g := b.Groups
	nm := c.Model.Backbone().NumMask()
	if len(recs) != 3 {
		t.Fatalf("%d reconstructions for 3 clouds", len(recs))
	}
	// The model's own output, for the predictions.
	out, err := m.Forward(nil, g, b.Mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	pred := out.Rebuild.Host()
	s := g.M
	for i, r := range recs {
		if r.MaskedGroups != nm || r.VisibleGroups != g.G-nm {
			t.Errorf("cloud %d: %d visible and %d masked groups, want %d and %d", i, r.VisibleGroups, r.MaskedGroups, g.G-nm, nm)
		}
		if len(r.Visible) != r.VisibleGroups*s*3 || len(r.Masked) != nm*s*3 || len(r.Predicted) != nm*s*3 {
			t.Fatalf("cloud %d: %d visible, %d masked, %d predicted values", i, len(r.Visible), len(r.Masked), len(r.Predicted))
		}
		v, q := 0, 0
		for j := 0; j < g.G; j++ {
			k := i*g.G + j
			for p := 0; p < s; p++ {
				for a := 0; a < 3; a++ {
					want := g.Neighbourhoods[(k*s+p)*3+a] + g.Centres[3*k+a]
					if b.Mask[k] {
						if got := r.Masked[(q*s+p)*3+a]; got != want {
							t.Fatalf("cloud %d group %d: masked point %v, want %v", i, j, got, want)
						}
						wp := pred[((i*nm+q)*s+p)*3+a] + g.Centres[3*k+a]
						if got := r.Predicted[(q*s+p)*3+a]; math.Abs(float64(got-wp)) > 1e-5 {
							t.Fatalf("cloud %d group %d: predicted %v, want %v", i, j, got, wp)
						}
					} else if got := r.Visible[(v*s+p)*3+a]; got != want {
						t.Fatalf("cloud %d group %d: visible point %v, want %v", i, j, got, want)
					}
				}
			}
			if b.Mask[k] {
				q++
			} else {
				v++
			}
		}
		// The input holds every group's points, once each.
		in := map[[3]float32]bool{}
		for p := 0; p+2 < len(r.Input); p += 3 {
			pt := [3]float32{r.Input[p], r.Input[p+1], r.Input[p+2]}
			if in[pt] {
				t.Fatalf("cloud %d: input point %v twice", i, pt)
			}
			in[pt] = true
		}
		for _, set := range [][]float32{r.Visible, r.Masked} {
			for p := 0; p+2 < len(set); p += 3 {
				if !in[[3]float32{set[p], set[p+1], set[p+2]}] {
					t.Fatalf("cloud %d: group point %v not in the input", i, set[p:p+3])
				}
			}
		}
		if len(r.Input) > c.Model.NPoints*3 || len(r.Input) < s*3 {
			t.Errorf("cloud %d: %d input points", i, len(r.Input)/3)
		}
	}
	if _, err := Reconstruct(m, &Batch{}); err == nil {
		t.Error("an empty batch: no error")
	}

	// ReconstructSamples takes the test split's first clouds, the same
	// every time; LoadModel reloads a run's model.
	dir := t.TempDir()
	if _, err := Train(context.Background(), c, data, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	cfg, lm, err := LoadModel(dir, "")
	if err != nil || cfg.Model != c.Model {
		t.Fatalf("LoadModel: %v", err)
	}
	a, err := ReconstructSamples(lm, data, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != min(10, data.Test.Len()) {
		t.Errorf("%d reconstructions of %d test clouds", len(a), data.Test.Len())
	}
	// The input is the test pipeline's whole cloud: the model's points,
	// every group point among them.
	for i, r := range a {
		if len(r.Input) != c.Model.NPoints*3 {
			t.Fatalf("sample %d: %d input points, want %d", i, len(r.Input)/3, c.Model.NPoints)
		}
		for _, set := range [][]float32{r.Visible, r.Masked} {
			for p := 0; p+2 < len(set); p += 3 {
				// Relative to its centre and back: equal up to rounding.
				best := math.Inf(1)
				for q := 0; q+2 < len(r.Input); q += 3 {
					d := 0.0
					for a := 0; a < 3; a++ {
						d += math.Pow(float64(set[p+a]-r.Input[q+a]), 2)
					}
					best = min(best, d)
				}
				if best > 1e-12 {
					t.Fatalf("sample %d: group point %v not in the input (%g away)", i, set[p:p+3], math.Sqrt(best))
				}
			}
		}
	}
	again, _ := ReconstructSamples(lm, data, 10, 1)
	for i := range a {
		for j := range a[i].Predicted {
			if a[i].Predicted[j] != again[i].Predicted[j] {
				t.Fatal("ReconstructSamples does not repeat")
			}
		}
	}
	if _, _, err := LoadModel(dir, filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("a missing checkpoint: no error")
	}
}
