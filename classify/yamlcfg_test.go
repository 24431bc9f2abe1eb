package classify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/train"
)

func TestReadPointMAEConfig(t *testing.T) {
	m, _ := ResolveModel("synth", "full", 16)
	cfg := Config{Version: 1, Model: m, Train: train.Config{Epochs: 3, BatchSize: 8, LR: 1}}
	notes, err := ReadConfigFile("testdata/finetune_scan_hardest_dapt.yaml", &cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := train.Config{Epochs: 300, BatchSize: 32, LR: 5e-4, WeightDecay: 0.05, WarmupEpochs: 10, ClipGrad: 10}
	if cfg.Train != want {
		t.Errorf("train settings %+v, want %+v", cfg.Train, want)
	}
	mc := cfg.Model
	if mc.Method != "dapt" || mc.TransDim != 384 || mc.Depth != 12 || mc.Heads != 6 || mc.Classes != 15 ||
		mc.Groups != 128 || mc.GroupSize != 32 || mc.Points != 2048 || mc.DropPath != 0.3 || cfg.Variant != "hardest" ||
		mc.Rank != 64 || mc.SMoAHeads != 0 || !mc.HeadCls {
		t.Errorf("model %+v variant %q", mc, cfg.Variant)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "step_per_update") {
		t.Errorf("notes %q, want one about step_per_update", notes)
	}
}

func TestReadConfigRejects(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"bad yaml":    "model: {",
		"empty":       "",
		"not number":  "max_epoch: many\n",
		"other model": "model: {NAME: PointNet}\n",
		"dims differ": "model: {trans_dim: 384, encoder_dims: 256}\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(p, []byte(text), 0o644)
		var cfg Config
		if _, err := ReadConfigFile(p, &cfg); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v (want an error naming the file)", name, err)
		}
	}
}

func TestRunConfigRoundTrip(t *testing.T) {
	cfg := tinyConfig(t, "dapt-x")
	cfg.Rotate, cfg.Ckpt = "y", "pretrain.pth"
	dir := t.TempDir()
	if err := WriteConfig(filepath.Join(dir, ConfigFile), cfg); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRunConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != cfg {
		t.Errorf("round trip:\n%+v\n%+v", got, cfg)
	}
	// pcx's own file is also accepted by --config.
	var again Config
	if _, err := ReadConfigFile(filepath.Join(dir, ConfigFile), &again); err != nil || again != cfg {
		t.Errorf("--config of config.yaml: %v %+v", err, again)
	}
}

// FuzzReadConfigFile feeds arbitrary files to the configuration reader:
// it returns a configuration or an error naming the file, never panics.
func FuzzReadConfigFile(f *testing.F) {
	seed, _ := os.ReadFile("testdata/finetune_scan_hardest_dapt.yaml")
	f.Add(seed)
	f.Add([]byte("pcx: 1\ndata: synth\nmodel: {method: dapt-x}\n"))
	f.Add([]byte("model: {NAME: PointTransformer, depth: 1e9}\n"))
	f.Add([]byte("max_epoch: [1, 2]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, _ := ResolveModel("synth", "dapt-x", 16)
		cfg := Config{Version: 1, Model: m}
		if _, err := ReadConfigFile(p, &cfg); err != nil && !strings.Contains(err.Error(), p) {
			t.Fatalf("error without the file name: %v", err)
		}
	})
}
