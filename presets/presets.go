// Package presets is pcx's registry of named configurations, in one place:
// model presets (a backbone's sizes, its data and DAPT's choices for it),
// fine-tuning methods (what each trains and its fixed settings), training
// schedules and the data set kinds of pcx train (which preset and schedule
// each defaults to). It holds data only; backbone, adapters, classify and
// the pcx command read their defaults from it, and pcx presets prints it.
//
// A table keeps the order its entries were registered in; lookups of a
// name that is not there return an error listing the names it has.
package presets

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// table is one registry: entries by name, in registration order.
type table[T any] struct {
	kind   string // "preset", "method", ... for error messages
	name   func(T) string
	order  []string
	byName map[string]T
}

func newTable[T any](kind string, name func(T) string, entries ...T) *table[T] {
	t := &table[T]{kind: kind, name: name, byName: map[string]T{}}
	for _, e := range entries {
		if err := t.register(e); err != nil {
			panic(err) // a built-in table names an entry twice
		}
	}
	return t
}

func (t *table[T]) register(e T) error {
	n := t.name(e)
	if n == "" {
		return fmt.Errorf("presets: a %s needs a name", t.kind)
	}
	if _, ok := t.byName[n]; ok {
		return fmt.Errorf("presets: %s %q is already registered", t.kind, n)
	}
	t.byName[n] = e
	t.order = append(t.order, n)
	return nil
}

func (t *table[T]) lookup(n string) (T, bool) {
	e, ok := t.byName[n]
	return e, ok
}

// names lists the names in registration order.
func (t *table[T]) names() []string { return append([]string(nil), t.order...) }

// sorted lists the names in alphabetical order.
func (t *table[T]) sorted() []string {
	s := t.names()
	sort.Strings(s)
	return s
}

func (t *table[T]) all() []T {
	out := make([]T, 0, len(t.order))
	for _, n := range t.order {
		out = append(out, t.byName[n])
	}
	return out
}

// Registry is every table, as pcx presets --json prints it.
type Registry struct {
	Models    []Model    `json:"models"`
	Methods   []Method   `json:"methods"`
	Schedules []Schedule `json:"schedules"`
	DataKinds []DataKind `json:"data_kinds"`
	// The ViT path's tables.
	ImageModels    []ImageModel    `json:"image_models"`
	ImageMethods   []ImageMethod   `json:"image_methods"`
	ImageDataKinds []ImageDataKind `json:"image_data_kinds"`
	// ImagePretrainModels are pcx pretrain's image MAE presets.
	ImagePretrainModels []ImagePretrainModel `json:"image_pretrain_models"`
	// Pretrained are the pretrained backbones built into pcx.
	Pretrained []Pretrained `json:"pretrained"`
}

// All returns a copy of every table.
func All() Registry {
	return Registry{Models: models.all(), Methods: methods.all(), Schedules: schedules.all(), DataKinds: dataKinds.all(),
		ImageModels: imageModels.all(), ImageMethods: imageMethods.all(), ImageDataKinds: imageKinds.all(),
		ImagePretrainModels: imagePretrainModels.all(), Pretrained: pretrained.all()}
}

// PrintJSON writes the registry as indented JSON.
func PrintJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(All())
}

// Print writes the registry as text tables.
func Print(w io.Writer) error {
	var b strings.Builder
	b.WriteString("Model presets (pcx train --preset):\n")
	fmt.Fprintf(&b, "  %-13s %-21s %6s %5s %4s %5s %5s %5s %5s %8s  %s\n",
		"name", "data", "points", "groups", "size", "class", "width", "depth", "heads", "droppath", "schedule")
	for _, m := range models.all() {
		s := m.Schedule
		if s == "" {
			s = "(data kind's)"
		}
		fmt.Fprintf(&b, "  %-13s %-21s %6d %5d %4d %5d %5d %5d %5d %8g  %s\n",
			m.Name, m.Data, m.Points, m.Groups, m.GroupSize, m.Classes, m.TransDim, m.Depth, m.Heads, m.DropPath, s)
	}
	b.WriteString("\nDAPT per model preset (DAPT-X reads the drop-path, head and adapter rank):\n")
	fmt.Fprintf(&b, "  %-13s %8s %4s %8s  %s\n", "name", "droppath", "rank", "dropout", "head")
	for _, m := range models.all() {
		fmt.Fprintf(&b, "  %-13s %8g %4d %8g  %s\n", m.Name, m.DAPT.DropPath, m.DAPT.Rank, m.DAPT.AdapterDropout, m.DAPT.Head)
	}
	b.WriteString("\nMethods (pcx train --method):\n")
	for _, m := range methods.all() {
		fmt.Fprintf(&b, "  %-7s %s; trains %s\n", m.Name, m.Summary, m.Trains)
		if x := m.SMoA; x != nil {
			fmt.Fprintf(&b, "          SMoA: rank %d, %d sub-token heads, %d experts, top-1 %v, balance α %g\n",
				x.Rank, x.Heads, x.Experts, x.Top1, x.Alpha)
		}
	}
	b.WriteString("\nSchedules:\n")
	fmt.Fprintf(&b, "  %-9s %6s %5s %8s %8s %6s %8s %6s  %s\n", "name", "epochs", "batch", "lr", "min_lr", "warmup", "decay", "clip", "")
	for _, s := range schedules.all() {
		c := s.Train
		fmt.Fprintf(&b, "  %-9s %6d %5d %8g %8g %6d %8g %6g  %s\n", s.Name, c.Epochs, c.BatchSize, c.LR, c.MinLR, c.WarmupEpochs, c.WeightDecay, c.ClipGrad, s.Summary)
	}
	b.WriteString("\nData set kinds (pcx train KIND):\n")
	for _, d := range dataKinds.all() {
		var vs []string
		for _, v := range d.Variants {
			vs = append(vs, v.Name+"→"+v.Preset)
		}
		pts := ""
		if d.DataPoints > 0 {
			pts = fmt.Sprintf(", %d points read", d.DataPoints)
		}
		fmt.Fprintf(&b, "  %-12s preset %s, schedule %s%s", d.Name, d.Preset, d.Schedule, pts)
		if len(vs) > 0 {
			fmt.Fprintf(&b, "; variants %s (default %s)", strings.Join(vs, ", "), d.Variant)
		} else if d.Variant != "" {
			fmt.Fprintf(&b, "; variant %s", d.Variant)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nImage model presets (ViT; pcx train IMAGE-KIND --preset):\n")
	fmt.Fprintf(&b, "  %-9s %5s %5s %5s %5s %5s %8s  %s\n", "name", "image", "patch", "width", "depth", "heads", "droppath", "")
	for _, m := range imageModels.all() {
		fmt.Fprintf(&b, "  %-9s %5d %5d %5d %5d %5d %8g  %s\n", m.Name, m.ImageSize, m.PatchSize, m.Width, m.Depth, m.Heads, m.DropPath, m.Summary)
	}
	b.WriteString("\nImage methods:\n")
	for _, m := range imageMethods.all() {
		fmt.Fprintf(&b, "  %-13s %s; trains %s", m.Name, m.Summary, m.Trains)
		if m.Rank > 0 {
			fmt.Fprintf(&b, "; rank %d", m.Rank)
		}
		if m.Scale > 0 {
			fmt.Fprintf(&b, ", scale %g", m.Scale)
		}
		b.WriteString("\n")
		if x := m.SMoA; x != nil {
			fmt.Fprintf(&b, "                SMoA: rank %d, %d sub-token heads, %d experts, top-1 %v, balance α %g\n",
				x.Rank, x.Heads, x.Experts, x.Top1, x.Alpha)
		}
	}
	b.WriteString("\nImage data set kinds (pcx train KIND):\n")
	for _, d := range imageKinds.all() {
		fmt.Fprintf(&b, "  %-13s preset %s, schedule %s", d.Name, d.Preset, d.Schedule)
		if d.ImageSize > 0 {
			fmt.Fprintf(&b, ", %d×%d images", d.ImageSize, d.ImageSize)
		}
		fmt.Fprintf(&b, "; %s\n", d.Summary)
	}
	b.WriteString("\nImage MAE pretraining presets (pcx pretrain images|fashion-mnist|cifar --preset):\n")
	fmt.Fprintf(&b, "  %-9s %-9s %7s %5s %5s %5s %6s %5s %8s  %s\n", "name", "encoder", "decoder", "depth", "heads", "mask", "epochs", "batch", "lr", "")
	for _, m := range imagePretrainModels.all() {
		fmt.Fprintf(&b, "  %-9s %-9s %7d %5d %5d %5g %6d %5d %8g  %s\n", m.Name, m.Encoder, m.DecoderWidth, m.DecoderDepth,
			m.DecoderHeads, m.MaskRatio, m.Train.Epochs, m.Train.BatchSize, m.Train.LR, m.Summary)
	}
	b.WriteString("\nBuilt-in pretrained backbones (pcx train --ckpt builtin:NAME; a model preset's default where it names one):\n")
	for _, p := range pretrained.all() {
		fmt.Fprintf(&b, "  %-9s preset %s: %s\n            made by: %s\n", p.Name, p.Model, p.Summary, p.Command)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
