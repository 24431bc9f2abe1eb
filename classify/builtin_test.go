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

// TestBuildReinit: --reinit keeps the matched parameters at the seed's
// random initialisation while the rest come from the checkpoint; a pattern
// matching nothing, or a reinit without a checkpoint, is refused.
func TestBuildReinit(t *testing.T) {
	m, err := ResolveModel("synth", "full", 0)
	if err != nil {
		t.Fatal(err)
	}
	tc := train.Config{Epochs: 1, BatchSize: 8, LR: 1e-3}
	random, err := Build(Config{Version: 1, Data: "synth", Model: m, Train: tc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := Build(Config{Version: 1, Data: "synth", Model: m, Train: tc, Ckpt: "builtin:synth"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cfg := Config{Version: 1, Data: "synth", Model: m, Train: tc, Ckpt: "builtin:synth", Reinit: []string{"pos_embed.*"}}
	got, err := Build(cfg, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "kept their random initialisation (reinit): pos_embed.0.weight") {
		t.Errorf("log: %s", log.String())
	}
	rp, pp := random.Params(), pre.Params()
	for i, p := range got.Params() {
		want := pp[i]
		if strings.HasPrefix(p.Name, "pos_embed.") {
			want = rp[i]
		}
		for j, v := range p.Data {
			if v != want.Data[j] {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, j, v, want.Data[j])
			}
		}
	}
	cfg.Reinit = []string{"pos_embedding.*"}
	if _, err := Build(cfg, nil); err == nil || !strings.Contains(err.Error(), "matches none") {
		t.Errorf("a pattern matching nothing: %v", err)
	}
	cfg.Reinit, cfg.Ckpt = []string{"pos_embed.*"}, ""
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("reinit without a checkpoint: %v", err)
	}
}
