package classify

import (
	"testing"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/presets"
)

// ResolveModel's dapt-x settings are DAPTXPreset's for the preset asked.
func TestResolveModelDAPTXPreset(t *testing.T) {
	for _, p := range presets.ModelNames() {
		m, err := ResolveModel(p, "dapt-x", 0)
		if err != nil {
			t.Fatal(err)
		}
		x, err := adapters.DAPTXPreset(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rank != x.Rank || m.AdapterRank != x.AdapterRank || m.SMoAHeads != x.SMoAHeads || m.Experts != x.Experts ||
			m.Top1 != x.Top1 || m.Alpha != x.Alpha || m.DropPath != x.DropPath || m.AdapterDropout != x.AdapterDropout ||
			m.HeadCls != x.Head.Cls || m.HeadPrompt != x.Head.Prompt || m.HeadPatch != x.Head.Patch {
			t.Errorf("%s: ResolveModel %+v, DAPTXPreset %+v", p, m, x)
		}
	}
}

// oldResolveModel is ResolveModel as pcx had it before the registry, with
// the method's settings chosen by its name: the oracle of
// TestResolveModelMatchesOld.
func oldResolveModel(preset, method string) ModelConfig {
	p, _ := presets.LookupModel(preset)
	c := adapters.BackboneConfig(p)
	m := ModelConfig{Preset: preset, Method: method, TransDim: c.TransDim, Depth: c.Depth, Heads: c.Heads,
		Classes: p.Classes, Groups: c.NumGroup, GroupSize: c.GroupSize, Points: c.NPoints, DropPath: c.DropPath,
		HeadDropout: c.HeadDropout}
	if method == "dapt" || method == "dapt-x" {
		d, _ := adapters.DAPTPreset(preset)
		m.DropPath, m.Rank, m.AdapterDropout = d.DropPath, d.Rank, d.AdapterDropout
		m.HeadCls, m.HeadPrompt, m.HeadPatch = d.Head.Cls, d.Head.Prompt, d.Head.Patch
	}
	if method == "dapt-x" {
		m.AdapterRank = m.Rank
		m.Rank, m.SMoAHeads, m.Experts, m.Alpha = 32, 3, 4, 0.01
	}
	return m
}

func TestResolveModelMatchesOld(t *testing.T) {
	for _, p := range presets.ModelNames() {
		for _, method := range presets.MethodNames() {
			m, err := ResolveModel(p, method, 0)
			if want := oldResolveModel(p, method); err != nil || m != want {
				t.Errorf("ResolveModel(%s, %s) = %+v, %v; want %+v", p, method, m, err, want)
			}
		}
	}
	if _, err := ResolveModel("synth", "lora", 0); err == nil || err.Error() != `unknown method "lora" (have full, linear, dapt, dapt-x)` {
		t.Errorf("ResolveModel(lora): %v", err)
	}
}
