package backbone

import (
	"slices"
	"testing"
)

// oldPresetConfigs is the preset table pcx had before the registry, as
// Config values: the registry must give the same model for every preset.
func oldPresetConfigs() map[string]Config {
	synth := PointMAEConfig(16, 32, 16, 1024, 0.1)
	synth.TransDim, synth.Depth, synth.Heads = 192, 6, 3
	return map[string]Config{
		"scan_objbg":   PointMAEConfig(15, 128, 32, 2048, 0.1),
		"scan_objonly": PointMAEConfig(15, 128, 32, 2048, 0.1),
		"scan_hardest": PointMAEConfig(15, 128, 32, 2048, 0.1),
		"modelnet":     PointMAEConfig(40, 64, 32, 1024, 0.1),
		"modelnet_8k":  PointMAEConfig(40, 512, 32, 8192, 0.1),
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
	if got := Presets(); !slices.Equal(got, names) {
		t.Fatalf("Presets() = %v, want %v", got, names)
	}
	for n, want := range old {
		p, err := LookupPreset(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Config(); got != want || p.Name != n {
			t.Errorf("%s: %+v, want %+v", n, got, want)
		}
	}
}
