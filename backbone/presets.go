package backbone

import (
	"fmt"
	"sort"
)

// Preset is one of the paper's fine-tuning configurations (Point-MAE's
// cfgs/finetune_*.yaml): data, point budget, grouping and classes.
type Preset struct {
	Name      string
	Data      string // data set and variant
	Points    int    // npoints fed to the model
	Groups    int    // G
	GroupSize int    // M
	Classes   int
	DropPath  float32
	// TransDim, Depth and Heads size the transformer; 0 means Point-MAE's
	// 384, 12 and 6.
	TransDim, Depth, Heads int
}

var presets = map[string]Preset{
	"scan_objbg":   {"scan_objbg", "scanobjectnn:objbg", 2048, 128, 32, 15, 0.1, 0, 0, 0},
	"scan_objonly": {"scan_objonly", "scanobjectnn:objonly", 2048, 128, 32, 15, 0.1, 0, 0, 0},
	"scan_hardest": {"scan_hardest", "scanobjectnn:hardest", 2048, 128, 32, 15, 0.1, 0, 0, 0},
	"modelnet":     {"modelnet", "modelnet40", 1024, 64, 32, 40, 0.1, 0, 0, 0},
	"modelnet_8k":  {"modelnet_8k", "modelnet40", 8192, 512, 32, 40, 0.1, 0, 0, 0},
	// synth is pcx's small preset for the built-in data set: half-width,
	// half-depth transformer on 1024 points in 32 groups of 16, fast enough to
	// train on two CPU cores in minutes.
	"synth": {"synth", "synth", 1024, 32, 16, 16, 0.1, 192, 6, 3},
}

// Presets lists the preset names.
func Presets() []string {
	var out []string
	for k := range presets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LookupPreset returns a preset by name.
func LookupPreset(name string) (Preset, error) {
	p, ok := presets[name]
	if !ok {
		return Preset{}, fmt.Errorf("unknown preset %q (have %v)", name, Presets())
	}
	return p, nil
}

// Config returns the Point-MAE model configuration of the preset.
func (p Preset) Config() Config {
	c := PointMAEConfig(p.Classes, p.Groups, p.GroupSize, p.Points, p.DropPath)
	if p.TransDim > 0 {
		c.TransDim, c.Depth, c.Heads = p.TransDim, p.Depth, p.Heads
	}
	return c
}
