package presets

import (
	"bytes"
	"testing"

	"github.com/pcx-dev/pcx/nn/state"
)

// TestPretrainedWeights: every built-in backbone is a float16 safetensors
// file of its model preset's width, and a name outside the table is an
// error naming the ones there are.
func TestPretrainedWeights(t *testing.T) {
	for _, name := range PretrainedNames() {
		p, err := LookupPretrained(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := LookupModel(p.Model)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := PretrainedWeights(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := state.DecodeSafetensors(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w, ok := d.Tensors["norm.weight"]
		if !ok || len(w.Shape) != 1 || w.Shape[0] != m.TransDim || w.DType != state.F16 {
			t.Errorf("%s: norm.weight %+v, want F16 of %d", name, w, m.TransDim)
		}
	}
	if _, err := PretrainedWeights("nope"); err == nil {
		t.Error("unknown name: no error")
	}
	if n, ok := BuiltinName("builtin:synth"); !ok || n != "synth" {
		t.Errorf("BuiltinName: %q %v", n, ok)
	}
	if _, ok := BuiltinName("runs/x/best.safetensors"); ok {
		t.Error("a path taken for a built-in name")
	}
}
