package presets

import (
	"embed"
	"fmt"
	"strings"
)

// BuiltinPrefix marks a checkpoint name that is one of pcx's built-in
// pretrained backbones: "builtin:synth".
const BuiltinPrefix = "builtin:"

//go:embed weights/*.safetensors
var weights embed.FS

// Pretrained is a pretrained backbone shipped inside pcx: a masked
// autoencoder's encoder under the fine-tuning model's names, in float16.
type Pretrained struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	// Model is the model preset whose backbone it fits.
	Model string `json:"model"`
	// Command makes it again: the same weights on any machine's CPU,
	// whatever its core count.
	Command string `json:"command"`
	file    string
}

var pretrained = newTable("pretrained backbone", func(p Pretrained) string { return p.Name },
	Pretrained{Name: "synth", Model: "synth",
		Summary: "the synth preset's encoder, pretrained as Point-MAE on 4,096 synth clouds other than pcx train synth's (data seed 1)",
		Command: "pcx pretrain synth --test-loss --half --out runs/synth-pretrain && cp runs/synth-pretrain/backbone.safetensors presets/weights/synth.safetensors",
		file:    "weights/synth.safetensors"},
)

// LookupPretrained returns a built-in pretrained backbone by name.
func LookupPretrained(name string) (Pretrained, error) {
	p, ok := pretrained.lookup(name)
	if !ok {
		return Pretrained{}, fmt.Errorf("unknown built-in pretrained backbone %q (have %v)", name, PretrainedNames())
	}
	return p, nil
}

// PretrainedNames lists the built-in pretrained backbones.
func PretrainedNames() []string { return pretrained.sorted() }

// BuiltinName returns NAME when ckpt is "builtin:NAME".
func BuiltinName(ckpt string) (string, bool) { return strings.CutPrefix(ckpt, BuiltinPrefix) }

// PretrainedWeights returns the safetensors bytes of the built-in
// pretrained backbone name.
func PretrainedWeights(name string) ([]byte, error) {
	p, err := LookupPretrained(name)
	if err != nil {
		return nil, err
	}
	return weights.ReadFile(p.file)
}
