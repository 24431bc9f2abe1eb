package backbone

import "github.com/pcx-dev/pcx/presets"

// Preset is a model preset of the registry (presets.Model): data, point
// budget, grouping, classes and the transformer's size.
type Preset struct{ presets.Model }

// Presets lists the preset names in alphabetical order.
func Presets() []string { return presets.ModelNames() }

// LookupPreset returns a preset by name.
func LookupPreset(name string) (Preset, error) {
	m, err := presets.LookupModel(name)
	if err != nil {
		return Preset{}, err
	}
	return Preset{m}, nil
}

// Config returns the Point-MAE model configuration of the preset.
func (p Preset) Config() Config {
	c := PointMAEConfig(p.Classes, p.Groups, p.GroupSize, p.Points, p.DropPath)
	if p.TransDim > 0 {
		c.TransDim, c.Depth, c.Heads = p.TransDim, p.Depth, p.Heads
	}
	return c
}
