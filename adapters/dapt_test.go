package adapters

import (
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/presets"
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
		Rank: 4, Head: HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}}
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

// oldPresetConfigs is the preset table pcx had before the registry, as
// Config values: the registry must give the same model for every preset.
func oldPresetConfigs() map[string]backbone.Config {
	synth := backbone.PointMAEConfig(16, 32, 16, 1024, 0.1)
	synth.TransDim, synth.Depth, synth.Heads = 192, 6, 3
	return map[string]backbone.Config{
		"scan_objbg":   backbone.PointMAEConfig(15, 128, 32, 2048, 0.1),
		"scan_objonly": backbone.PointMAEConfig(15, 128, 32, 2048, 0.1),
		"scan_hardest": backbone.PointMAEConfig(15, 128, 32, 2048, 0.1),
		"modelnet":     backbone.PointMAEConfig(40, 64, 32, 1024, 0.1),
		"modelnet_8k":  backbone.PointMAEConfig(40, 512, 32, 8192, 0.1),
		"synth":        synth,
	}
}

func TestPresetsMatchOldTable(t *testing.T) {
	old := oldPresetConfigs()
	var names []string
	for n := range old {
		names = append(names, n)
	}
	slices.Sort(names)
	if got := presets.ModelNames(); !slices.Equal(got, names) {
		t.Fatalf("ModelNames() = %v, want %v", got, names)
	}
	for n, want := range old {
		p, err := presets.LookupModel(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := BackboneConfig(p); got != want || p.Name != n {
			t.Errorf("%s: %+v, want %+v", n, got, want)
		}
	}
}

// oldDAPTPreset is DAPTPreset as a switch on the preset's name, as pcx had
// it before the registry: the oracle of TestDAPTPresetsMatchOldSwitch.
func oldDAPTPreset(name string) (DAPTConfig, error) {
	c := DAPTConfig{Config: oldPresetConfigs()[name], Rank: 64}
	c.PosEveryBlock = false
	switch name {
	case "scan_objbg":
		c.DropPath, c.AdapterDropout, c.Head = 0.3, 0.5, HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}
	case "scan_hardest":
		c.DropPath, c.AdapterDropout, c.Head = 0.3, 0.2, HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}
	case "scan_objonly":
		c.DropPath, c.Head = 0.1, HeadTokens{Cls: true, Prompt: "mean"}
	case "synth":
		c.AdapterDropout, c.Head = 0.2, HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}
	default:
		c.DropPath, c.Rank, c.Head = 0.1, 72, HeadTokens{Cls: true, Patch: "max"}
	}
	return c, nil
}

func TestDAPTPresetsMatchOldSwitch(t *testing.T) {
	for _, name := range presets.ModelNames() {
		want, _ := oldDAPTPreset(name)
		got, err := DAPTPreset(name)
		if err != nil || got != want {
			t.Errorf("DAPTPreset(%s) = %+v, %v; want %+v", name, got, err, want)
		}
		x, err := DAPTXPreset(name)
		wantX := DAPTXConfig{DAPTConfig: want, SMoAHeads: 3, Experts: 4, Alpha: 0.01, AdapterRank: want.Rank}
		wantX.Rank = 32
		if err != nil || x != wantX {
			t.Errorf("DAPTXPreset(%s) = %+v, %v; want %+v", name, x, err, wantX)
		}
	}
	if _, err := DAPTPreset("nope"); err == nil {
		t.Error("DAPTPreset accepted an unknown preset")
	}
}
