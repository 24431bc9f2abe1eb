package presets

import (
	"fmt"
	"slices"
)

// DataKind is a kind of data set pcx train takes: the model preset its
// variants pick, the points read per cloud and the training schedule.
type DataKind struct {
	Name string `json:"name"`
	// Variant is the default variant.
	Variant string `json:"variant,omitempty"`
	// Variants map a variant to its model preset; any other variant uses
	// Preset.
	Variants []Variant `json:"variants,omitempty"`
	Preset   string    `json:"preset"`
	// DataPoints is how many points a cloud is read with (0: the reader's
	// default).
	DataPoints int    `json:"data_points,omitempty"`
	Schedule   string `json:"schedule"`
}

// Variant is a data set variant and the model preset it trains with.
type Variant struct {
	Name   string `json:"name"`
	Preset string `json:"preset"`
}

// PresetFor returns the model preset of a variant.
func (d DataKind) PresetFor(variant string) string {
	for _, v := range d.Variants {
		if v.Name == variant {
			return v.Preset
		}
	}
	return d.Preset
}

var dataKinds = newTable("data set kind", func(d DataKind) string { return d.Name },
	DataKind{Name: "synth", Variant: "clean", Preset: "synth", Schedule: "synth"},
	DataKind{Name: "scanobjectnn", Variant: "objbg", Preset: "scan_objbg", Schedule: "pointmae",
		Variants: []Variant{{"objbg", "scan_objbg"}, {"objonly", "scan_objonly"}, {"hardest", "scan_hardest"}, {"pb_t50_rs", "scan_hardest"}}},
	DataKind{Name: "modelnet40", Preset: "modelnet", DataPoints: 8192, Schedule: "pointmae"},
	DataKind{Name: "folder", Preset: "modelnet", DataPoints: 8192, Schedule: "pointmae"},
)

// LookupDataKind returns a data set kind by name.
func LookupDataKind(name string) (DataKind, error) {
	d, ok := dataKinds.lookup(name)
	if !ok {
		return DataKind{}, fmt.Errorf("unknown data set kind %q (have %v)", name, dataKinds.names())
	}
	d.Variants = slices.Clone(d.Variants)
	return d, nil
}

// DataKinds lists the data set kinds in registration order.
func DataKinds() []DataKind {
	out := dataKinds.all()
	for i := range out {
		out[i].Variants = slices.Clone(out[i].Variants)
	}
	return out
}
