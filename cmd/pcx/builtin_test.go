package main

import (
	"path/filepath"
	"testing"

	"github.com/pcx-dev/pcx/classify"
)

// TestTrainBuiltinBackbone: the synth preset fine-tunes its built-in
// pretrained backbone unless --ckpt names other weights or none; a
// configuration file names its own.
func TestTrainBuiltinBackbone(t *testing.T) {
	for _, tc := range []struct {
		kind string
		args []string
		want string
	}{
		{"synth", nil, "builtin:synth"},
		{"synth", []string{"--method", "dapt"}, "builtin:synth"},
		{"synth", []string{"--ckpt", "none"}, ""},
		{"synth", []string{"--ckpt", "x.pth"}, "x.pth"},
		{"scanobjectnn", []string{"--data", "/d"}, ""},
		{"scanobjectnn", []string{"--data", "/d", "--preset", "synth"}, "builtin:synth"},
	} {
		cfg, err := configFor(t, tc.kind, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Ckpt != tc.want {
			t.Errorf("%s %v: ckpt %q, want %q", tc.kind, tc.args, cfg.Ckpt, tc.want)
		}
	}
	// A configuration file without ckpt: means random, as it always did.
	random, err := configFor(t, "synth", "--ckpt", "none")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := classify.WriteConfig(p, random); err != nil {
		t.Fatal(err)
	}
	if c, err := configFor(t, "synth", "--config", p); err != nil || c.Ckpt != "" {
		t.Errorf("config without ckpt: %q, %v", c.Ckpt, err)
	}
}
