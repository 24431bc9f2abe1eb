package adapters

import (
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

func TestDAPTTunableCounts(t *testing.T) {
	for _, tc := range []struct {
		preset  string
		tunable int
	}{
		{"scan_objbg", 1087771}, // DAPT's README: 1.1M; reference.md derives 1,087,771
		{"scan_hardest", 1087771},
	} {
		cfg, err := DAPTPreset(tc.preset)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewDAPT(cfg, pointcloud.NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		r := backbone.CountParams(d.Params())
		if r.Tunable != tc.tunable {
			t.Errorf("%s: %d tunable, want %d", tc.preset, r.Tunable, tc.tunable)
		}
	}
}

func TestDAPTForwardBackward(t *testing.T) {
	cfg := DAPTConfig{Config: backbone.Config{TransDim: 16, Depth: 2, Heads: 2, Classes: 3, NumGroup: 8, GroupSize: 4},
		Rank: 4, Head: HeadTokens{true, "mean", "max"}}
	d, err := NewDAPT(cfg, pointcloud.NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	r := pointcloud.NewRand(3)
	xyz := make([]float32, 2*64*3)
	for i := range xyz {
		xyz[i] = float32(r.NormFloat64())
	}
	g, err := d.Group(xyz, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	rm := append([]float32(nil), d.Encoder.BN1.RunningMean.Data...)
	tp := nn.NewTape(true)
	logits := d.Forward(tp, g, r)
	if logits.Dim(0) != 2 || logits.Dim(1) != 3 {
		t.Fatalf("logits %v", logits.Shape)
	}
	tp.Backward(nn.CrossEntropy(tp, logits, []int{1, 2}, 0))
	for _, p := range d.Params() {
		if p.Trainable && p.Grad == nil {
			t.Errorf("tunable %s got no gradient", p.Name)
		}
		if !p.Trainable && p.Grad != nil {
			t.Errorf("frozen %s got a gradient", p.Name)
		}
	}
	if d.Encoder.BN1.RunningMean.Data[0] == rm[0] {
		t.Error("frozen encoder BatchNorm did not update its running statistics")
	}
}
