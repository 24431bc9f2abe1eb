package classify

import (
	"os"
	"path/filepath"
	"reflect"
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
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("round trip:\n%+v\n%+v", got, cfg)
	}
	// pcx's own file is also accepted by --config.
	var again Config
	if _, err := ReadConfigFile(filepath.Join(dir, ConfigFile), &again); err != nil || !reflect.DeepEqual(again, cfg) {
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

// TestReadConfigChecksNumbers gives every number a configuration file sets
// a value out of its range, a fraction where a count belongs, NaN or a
// size that cannot fit in memory: each is an error naming the file and the
// key, never a panic, a huge allocation or a silently truncated value.
func TestReadConfigChecksNumbers(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{"npoints: -1024\n", "npoints"},
		{"npoints: .nan\n", "npoints"},
		{"npoints: 1e300\n", "npoints"},
		{"max_epoch: 1.7\n", "max_epoch"},
		{"max_epoch: 0\n", "max_epoch"},
		{"total_bs: -8\n", "total_bs"},
		{"grad_norm_clip: .nan\n", "grad_norm_clip"},
		{"grad_norm_clip: -1\n", "grad_norm_clip"},
		{"optimizer: {kwargs: {lr: 0}}\n", "lr"},
		{"optimizer: {kwargs: {lr: .inf}}\n", "lr"},
		{"optimizer: {kwargs: {weight_decay: -0.1}}\n", "weight_decay"},
		{"scheduler: {kwargs: {epochs: 2.5}}\n", "epochs"},
		{"scheduler: {kwargs: {initial_epochs: -1}}\n", "initial_epochs"},
		{"model: {trans_dim: 0}\n", "trans_dim"},
		{"model: {trans_dim: 384, encoder_dims: -384}\n", "encoder_dims"},
		{"model: {depth: 12.5}\n", "depth"},
		{"model: {num_heads: -6}\n", "num_heads"},
		{"model: {cls_dim: 0}\n", "cls_dim"},
		{"model: {num_group: 4096}\nnpoints: 1024\n", "groups"},
		{"model: {group_size: -32}\n", "group_size"},
		{"model: {drop_path_rate: 5}\n", "drop_path_rate"},
		{"model: {drop_path_rate: 1}\n", "drop_path_rate"},
		{"model: {drop_path_rate: .nan}\n", "drop_path_rate"},
		{"model: {num_heads: 5}\n", "heads"},
		{"model: {trans_dim: 65536, encoder_dims: 65536, num_heads: 8, depth: 1000}\n", "would need"},
		{"total_bs: 1000000000\n", "would need"},
	} {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		m, _ := ResolveModel("synth", "dapt-x", 16)
		cfg := Config{Version: 1, Model: m}
		_, err := ReadConfigFile(p, &cfg)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v (want an error naming the file and %q)", tc.text, err, tc.want)
		}
	}
	// Whole numbers written as floats, and rates inside their range, pass.
	p := filepath.Join(dir, "ok.yaml")
	os.WriteFile(p, []byte("max_epoch: 300.0\nnpoints: 1024\nmodel: {drop_path_rate: 0.0, depth: 12}\n"), 0o644)
	m, _ := ResolveModel("synth", "dapt-x", 16)
	cfg := Config{Version: 1, Model: m}
	if _, err := ReadConfigFile(p, &cfg); err != nil || cfg.Train.Epochs != 300 || cfg.Model.Points != 1024 {
		t.Errorf("valid file: %v, %+v", err, cfg)
	}
}

// TestReadOwnConfigChecksNumbers does the same for pcx's own config.yaml.
func TestReadOwnConfigChecksNumbers(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, ConfigFile)
	if err := WriteConfig(base, tinyConfig(t, "dapt-x")); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"npoints: 128", "npoints: -1024", "npoints"},
		{"trans_dim: 24", "trans_dim: 65536", "would need"},
		{"depth: 2", "depth: 0", "depth"},
		{"drop_path_rate: 0.1", "drop_path_rate: .nan", "drop_path_rate"},
		{"epochs: 2", "epochs: 0", "epochs"},
		{"epochs: 2", "epochs: 1.7", "1.7"},
		{"batch_size: 8", "batch_size: -8", "batch"},
		{"data: synth", "data: synth\ndata_points: -5", "data_points"},
		{"data: synth", "data: synth\ndata_points: 1000000000000", "would need"},
		{"data: synth", "data: synth\nrotate: w", "rotate"},
		{"weight_decay: 0.05", "weight_decay: .nan", "weight_decay"},
		{"grad_norm_clip: 10", "grad_norm_clip: .inf", "grad_norm_clip"},
	} {
		if !strings.Contains(string(text), tc.from) {
			t.Fatalf("config.yaml has no %q:\n%s", tc.from, text)
		}
		p := filepath.Join(dir, "bad.yaml")
		os.WriteFile(p, []byte(strings.Replace(string(text), tc.from, tc.to, 1)), 0o644)
		var cfg Config
		if _, err := ReadConfigFile(p, &cfg); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (want an error naming the file and %q)", tc.to, err, tc.want)
		}
	}
}
