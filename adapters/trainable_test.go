package adapters

import (
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/presets"
)

// oldTrainable is how pcx chose each method's trainable parameters before
// the methods declared them: by name. It is the oracle of
// TestTrainableMatchesNames. ok is false for a method it does not know.
func oldTrainable(method string, p *nn.Param) (trains, ok bool) {
	n := p.Name
	switch method {
	case "full":
		trains = true
	case "linear":
		trains = nn.Match("cls_head_finetune.*", n)
	case "dapt":
		trains = strings.Contains(n, "cls") || strings.Contains(n, "tfts") || strings.Contains(n, "Adapter")
	case "dapt-x":
		trains = strings.Contains(n, "cls") || strings.HasPrefix(n, "smoa.") ||
			strings.Contains(n, ".norm2.") || strings.Contains(n, ".pg_") ||
			strings.Contains(n, "tfts") || strings.Contains(n, "Adapter")
	default:
		return false, false
	}
	return trains && !p.Buffer, true
}

// Every method's declared trainable set is the set its names gave, on every
// preset (and dapt-x with KeepDAPT), and buffers never train. A method
// newer than the name rules is checked for the rest: its flags follow its
// declaration.
func TestTrainableMatchesNames(t *testing.T) {
	names := presets.ModelNames()
	if testing.Short() {
		names = []string{"synth"}
	}
	for _, preset := range names {
		for _, method := range append(presets.MethodNames(), "dapt-x+keep") {
			cfg, err := DAPTXPreset(preset)
			if err != nil {
				t.Fatal(err)
			}
			m := method
			if method == "dapt-x+keep" {
				m, cfg.KeepDAPT = "dapt-x", true
			}
			if m == "full" || m == "linear" {
				cfg.PosEveryBlock = true
			}
			n, err := Build(m, cfg, pointcloud.NewRand(0))
			if err != nil {
				t.Fatal(err)
			}
			declared := map[*nn.Param]bool{}
			for _, p := range n.Trainable() {
				if declared[p] || p.Buffer {
					t.Errorf("%s %s: %s declared twice or a buffer", preset, method, p.Name)
				}
				declared[p] = true
			}
			count := 0
			for _, p := range n.Params() {
				want, ok := oldTrainable(m, p)
				if !ok {
					want = declared[p]
				}
				if p.Trainable != want || declared[p] != want {
					t.Errorf("%s %s: %s trainable %v, declared %v, by name %v", preset, method, p.Name, p.Trainable, declared[p], want)
				}
				if want {
					count++
				}
			}
			if count != len(declared) {
				t.Errorf("%s %s: %d declared, %d in Params", preset, method, len(declared), count)
			}
			// Every method's state dict starts with the backbone's embedding.
			emb, all := n.Backbone().EmbedParams(), n.Params()
			if len(emb) == 0 || len(all) < len(emb) {
				t.Fatalf("%s %s: %d embedding parameters of %d", preset, method, len(emb), len(all))
			}
			for i, p := range emb {
				if all[i] != p {
					t.Errorf("%s %s: parameter %d is %s, the embedding's is %s", preset, method, i, all[i].Name, p.Name)
				}
			}
		}
	}
}

// Every registered method has code, and Build refuses other names.
func TestBuildMethods(t *testing.T) {
	for _, m := range presets.MethodNames() {
		if builders[m] == nil {
			t.Errorf("method %s has no builder", m)
		}
	}
	if len(builders) != len(presets.MethodNames()) {
		t.Errorf("%d builders for %d methods", len(builders), len(presets.MethodNames()))
	}
	cfg, _ := DAPTXPreset("synth")
	if _, err := Build("lora", cfg, pointcloud.NewRand(0)); err == nil || err.Error() != `unknown method "lora" (have full, linear, dapt, dapt-x)` {
		t.Errorf("Build(lora): %v", err)
	}
}
