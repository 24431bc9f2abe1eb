package pretrain

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/probe"
	"github.com/pcx-dev/pcx/train"
)

// shotProbe is a FeatureProbe over fixed features: three classes in two
// dimensions, each a cloud of 20 training and 10 test points around its own
// centre, noisy enough that a few shots fit worse than all of them.
func shotProbe(shots int) *FeatureProbe {
	r := rand.New(rand.NewPCG(1, 1))
	centres := [][2]float64{{0, 0}, {1, 0}, {0, 1}}
	make1 := func(per int) ([]float32, []int) {
		var x []float32
		var y []int
		for i := range per * 3 {
			c := i % 3
			x = append(x, float32(centres[c][0]+0.45*r.NormFloat64()), float32(centres[c][1]+0.45*r.NormFloat64()))
			y = append(y, c)
		}
		return x, y
	}
	trX, trY := make1(20)
	teX, teY := make1(10)
	return &FeatureProbe{Name: "test", Dim: 2, TrainLabels: trY, TestLabels: teY, SVM: probe.LinearSVC(), Shots: shots,
		Extract: func(_ context.Context, s train.Split, _ func(int)) ([]float32, error) {
			if s == train.TrainSplit {
				return append([]float32(nil), trX...), nil
			}
			return append([]float32(nil), teX...), nil
		}}
}

// TestFewShotProbe: a few-shot probe repeats exactly, differs from the
// whole-split probe (it fits on fewer samples), and refuses more shots
// than a class has, naming the class, and a probe_shots that is negative
// or has no probe to apply to.
func TestFewShotProbe(t *testing.T) {
	ctx := context.Background()
	all, err := shotProbe(0).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	two, err := shotProbe(2).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := shotProbe(2).Run(ctx)
	if two != again {
		t.Errorf("the same few-shot probe gave %v, then %v", two, again)
	}
	if two == all {
		t.Errorf("2 shots and the whole split both gave %v", all)
	}
	if two <= 0 || two > 1 {
		t.Errorf("2-shot accuracy %v", two)
	}
	if _, err := shotProbe(21).Run(ctx); err == nil || !strings.Contains(err.Error(), "class 0 has 20 training samples") {
		t.Errorf("21 shots of 20: %v", err)
	}
	c := SynthConfig()
	c.ProbeShots = -1
	if err := c.Validate(); err == nil {
		t.Error("negative probe_shots accepted")
	}
	c.ProbeShots, c.Probe, c.ProbeVariant = 3, "", ""
	if err := c.Validate(); err == nil {
		t.Error("probe_shots without a probe accepted")
	}
}
