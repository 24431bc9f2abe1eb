package classify

import (
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/train"
)

// TestBuildBuiltinBackbone: "builtin:synth" loads every pretrained weight
// of the synth preset's backbone (Build refuses a load that misses one),
// and an unknown built-in name is an error naming the ones there are.
func TestBuildBuiltinBackbone(t *testing.T) {
	m, err := ResolveModel("synth", "dapt-x", 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Version: 1, Data: "synth", Model: m, Train: train.Config{Epochs: 1, BatchSize: 8, LR: 1e-3}, Ckpt: "builtin:synth"}
	random, err := Build(Config{Version: 1, Data: "synth", Model: m, Train: cfg.Train}, nil)
	if err != nil {
		t.Fatal(err)
	}
	built, err := Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rp, bp := random.Params(), built.Params()
	for i, p := range bp {
		if p.Name != "norm.weight" {
			continue
		}
		same := true
		for j, v := range p.Data {
			same = same && v == rp[i].Data[j]
		}
		if same {
			t.Error("norm.weight unchanged by the built-in backbone")
		}
	}
	cfg.Ckpt = "builtin:nope"
	if _, err := Build(cfg, nil); err == nil || !strings.Contains(err.Error(), "synth") {
		t.Errorf("unknown built-in: %v", err)
	}
}
