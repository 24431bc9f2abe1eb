package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/pretrain"
	"github.com/urfave/cli/v2"
)

// tinyPretrain writes a pretraining configuration of a tiny model, the
// encoder of tinyRun's, on tinyRun's data; it returns its path and
// tinyRun's fine-tuning configuration.
func tinyPretrain(t *testing.T) (pre, fine string) {
	t.Helper()
	fine = tinyRun(t, 1)
	c := pretrain.SynthConfig()
	c.Data, c.Variant = "npy:"+filepath.Join(filepath.Dir(fine), "data"), ""
	c.Probe, c.ProbeVariant, c.ProbeShots = c.Data, "", 2 // tinyRun's labelled clouds, 2 a class
	c.Model = pretrain.ModelConfig{TransDim: 24, Depth: 2, Heads: 2, DecoderDepth: 1, DecoderHeads: 2, NumGroup: 8, GroupSize: 8,
		NPoints: 128, MaskRatio: 0.6, MaskType: backbone.MaskRand}
	c.Train.Epochs, c.Train.BatchSize, c.Train.WarmupEpochs, c.Train.Seed, c.Train.Workers = 2, 8, 1, 5, 2
	pre = filepath.Join(t.TempDir(), "pre.yaml")
	if err := writePretrainConfig(pre, c); err != nil {
		t.Fatal(err)
	}
	return pre, fine
}

func writePretrainConfig(path string, c pretrain.Config) error {
	b, err := json.Marshal(c) // JSON is YAML
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// TestPretrainCommand: pcx pretrain synth runs (from a configuration, with
// flags over it), writes its files, resumes, repeats, and its backbone
// fine-tunes with pcx train --ckpt; pcx plot curves draws its run.
func TestPretrainCommand(t *testing.T) {
	pre, fine := tinyPretrain(t)
	out := filepath.Join(t.TempDir(), "run")
	text, err := run(t, "pretrain", "synth", "--config", pre, "--mask-ratio", "0.5", "--test-loss", "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Metric, Backbone string
		Best, Last       float64
		Figures          []string
	}
	if err := json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &res); err != nil {
		t.Fatalf("%v in %q", err, text)
	}
	if res.Metric != "train_loss" || !(res.Best > 0) || res.Backbone != filepath.Join(out, pretrain.BackboneFile) || len(res.Figures) != 2 ||
		res.Figures[1] != filepath.Join(out, "reconstruction.png") {
		t.Errorf("result %+v", res)
	}
	for _, f := range []string{"config.yaml", "metrics.jsonl", "metrics.csv", "last.safetensors", "best.safetensors", "backbone.safetensors", "curves.png", "reconstruction.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	cfg, err := pretrain.ReadConfig(filepath.Join(out, pretrain.ConfigFile))
	if err != nil || cfg.Model.MaskRatio != 0.5 || !cfg.TestLoss || cfg.Train.Epochs != 2 {
		t.Errorf("config.yaml %+v, %v", cfg, err)
	}
	ms := metricsOf(t, out)
	if len(ms) != 2 {
		t.Fatalf("%d epochs", len(ms))
	}
	for _, name := range []string{"test_loss", "probe_svm_acc"} {
		if _, ok := ms[0].Get(name); !ok {
			t.Errorf("no %s in %v", name, ms[0].Names())
		}
	}
	if text, err := run(t, "pretrain", "synth", "--resume", "--out", out); err != nil || !strings.Contains(text, "complete") {
		t.Errorf("resuming a complete run: %q, %v", text, err)
	}
	if _, err := run(t, "pretrain", "synth", "--config", pre, "--mask-ratio", "0.5", "--test-loss", "--out", out); err == nil {
		t.Error("a new run over a finished one without --overwrite: no error")
	}
	// --overwrite: the same run again, the same metrics and backbone.
	bb, _ := os.ReadFile(filepath.Join(out, pretrain.BackboneFile))
	if _, err := run(t, "pretrain", "synth", "--config", pre, "--mask-ratio", "0.5", "--test-loss", "--out", out, "--overwrite", "--plots=false"); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(out, pretrain.BackboneFile)); string(again) != string(bb) {
		t.Error("the run did not repeat: backbone.safetensors differs")
	}
	for _, f := range []string{"curves.png", "reconstruction.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("--overwrite kept the old run's %s", f)
		}
	}
	if text, err := run(t, "plot", "curves", out); err != nil || !strings.Contains(text, "curves.png") {
		t.Errorf("pcx plot curves: %q, %v", text, err)
	}
	if text, err := run(t, "plot", "reconstruction", out, "--clouds", "2"); err != nil || !strings.Contains(text, "reconstruction.png") {
		t.Errorf("pcx plot reconstruction: %q, %v", text, err)
	}
	if st, err := os.Stat(filepath.Join(out, "reconstruction.png")); err != nil || st.Size() < 10000 {
		t.Errorf("reconstruction.png: %v", err)
	}
	if _, err := run(t, "plot", "reconstruction", out, "--ckpt", filepath.Join(out, "missing.safetensors")); err == nil {
		t.Error("pcx plot reconstruction of a missing checkpoint: no error")
	}
	// The backbone fine-tunes.
	ft := filepath.Join(t.TempDir(), "ft")
	text, err = run(t, "train", "folder", "--config", fine, "--ckpt", res.Backbone, "--out", ft, "--plots=false")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "loaded "+res.Backbone) {
		t.Errorf("fine-tuning did not report loading the backbone:\n%s", text)
	}
}

// TestPretrainBadFlags: settings that cannot run are refused before a run
// directory is made.
func TestPretrainBadFlags(t *testing.T) {
	pre, _ := tinyPretrain(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mask-ratio", "1.5"}, "mask ratio"},
		{[]string{"--mask-ratio", "0"}, "mask ratio"},
		{[]string{"--mask-ratio", "0.01"}, "masks 0 of 8"},
		{[]string{"--mask-type", "stripes"}, "mask type"},
		{[]string{"--epochs", "0"}, "epochs"},
		{[]string{"--batch", "-1"}, "batch"},
		{[]string{"--lr", "0"}, "learning rate"},
		{[]string{"--resume", "--overwrite"}, "give one of them"},
		{[]string{"--resume", "--epochs", "3"}, "--epochs"},
		{[]string{"--resume", "--no-probe"}, "--no-probe"},
		{[]string{"--probe", "synth", "--no-probe"}, "contradict"},
		{[]string{"--resume"}, "no run to resume"},
		{[]string{"extra"}, "takes no arguments"},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
	} {
		args := append([]string{"pretrain", "synth", "--out", out}, tc.args...)
		if !strings.HasPrefix(tc.args[0], "--config") && !strings.HasPrefix(tc.args[0], "--resume") {
			args = append(args, "--config", pre)
		}
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %q", tc.args, err, tc.want)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Fatalf("%v: %s was made", tc.args, out)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("pcx: 1\ntask: pretrain\ndata: synth\nmodle: {}\n"), 0o644)
	if _, err := run(t, "pretrain", "synth", "--config", bad, "--out", out); err == nil || !strings.Contains(err.Error(), "modle") {
		t.Errorf("misspelt key: %v", err)
	}
}

// resolvePretrain resolves the configuration pcx pretrain KIND args would
// run, without running it.
func resolvePretrain(t *testing.T, k pretrainKind, args ...string) (pretrain.Config, error) {
	t.Helper()
	var (
		cfg  pretrain.Config
		rerr error
	)
	cmd := pretrainPointsCommand(k)
	cmd.Action = func(c *cli.Context) error {
		cfg, rerr = pretrainConfig(c, k)
		return nil
	}
	app := &cli.App{Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard}
	if err := app.Run(append([]string{"pcx", k.name}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, rerr
}

// TestPretrainConfigs: each subcommand's defaults, --preset and the data
// flags.
func TestPretrainConfigs(t *testing.T) {
	kind := map[string]pretrainKind{}
	for _, k := range pretrainKinds {
		kind[k.name] = k
	}
	synthCfg, err := resolvePretrain(t, kind["synth"])
	if err != nil || synthCfg.Data != "synth" || synthCfg.DataSeed != 1 || synthCfg.SynthTrain != 256 || synthCfg.Model != pretrain.SynthModel() {
		t.Errorf("synth defaults %+v, %v", synthCfg, err)
	}
	c, err := resolvePretrain(t, kind["synth"], "--samples-per-class", "12", "--data-seed", "9", "--preset", "pointmae", "--epochs", "3")
	if err != nil || c.SynthTrain != 12 || c.DataSeed != 9 || c.Model != pretrain.PointMAEModel() || c.Train.Epochs != 3 || c.Train.BatchSize != 128 {
		t.Errorf("synth with flags %+v, %v", c, err)
	}
	c, err = resolvePretrain(t, kind["shapenet"], "--data", "/data/ShapeNet55-34")
	if err != nil || c.Data != "shapenet:/data/ShapeNet55-34" || c.Model != pretrain.PointMAEModel() || c.DataPoints != 1024 || c.Train.Epochs != 300 {
		t.Errorf("shapenet defaults %+v, %v", c, err)
	}
	c, err = resolvePretrain(t, kind["shapenet"], "--data", "d", "--preset", "synth", "--data-points", "2048")
	sched := pretrain.SynthSchedule()
	sched.Workers = 2 // the loader's, recorded
	if err != nil || c.Model != pretrain.SynthModel() || c.DataPoints != 2048 || c.Train != sched {
		t.Errorf("shapenet --preset synth %+v, %v", c, err)
	}
	c, err = resolvePretrain(t, kind["folder"], "--data", "meshes", "--hold-out", "0.25")
	if err != nil || c.Data != "unlabelled:meshes" || c.Model != pretrain.SynthModel() || c.HoldOut != 0.25 || c.DataPoints != pretrain.FolderPoints {
		t.Errorf("folder %+v, %v", c, err)
	}
	for _, tc := range []struct {
		kind string
		args []string
		want string
	}{
		{"shapenet", nil, "needs --data"},
		{"folder", nil, "needs --data"},
		{"synth", []string{"--preset", "huge"}, "unknown pretraining preset"},
		{"synth", []string{"--samples-per-class", "0"}, "--samples-per-class"},
		{"folder", []string{"--data", "x", "--hold-out", "1"}, "hold_out"},
		{"folder", []string{"--data", "x", "--data-points", "-3"}, "data_points"},
	} {
		if _, err := resolvePretrain(t, kind[tc.kind], tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want an error naming %q", tc.kind, tc.args, err, tc.want)
		}
	}
}

// TestPretrainShapeNetFolder: pcx pretrain shapenet and folder run on tiny
// layouts with the tiny model of a configuration, and draw their figures.
func TestPretrainShapeNetFolder(t *testing.T) {
	pre, _ := tinyPretrain(t)
	// ShapeNet-55: 10 training clouds and 2 test clouds of 200 points.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "ShapeNet-55"), 0o755)
	os.MkdirAll(filepath.Join(root, "shapenet_pc"), 0o755)
	var lists [2][]string
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("0%d-m%d.npy", 2691156+i%3, i)
		lists[min(i/10, 1)] = append(lists[min(i/10, 1)], name)
		if err := pointcloud.WriteFile(filepath.Join(root, "shapenet_pc", name), blob(200, i)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "ShapeNet-55", "train.txt"), []byte(strings.Join(lists[0], "\n")), 0o644)
	os.WriteFile(filepath.Join(root, "ShapeNet-55", "test.txt"), []byte(strings.Join(lists[1], "\n")), 0o644)
	out := filepath.Join(t.TempDir(), "shapenet")
	text, err := run(t, "pretrain", "shapenet", "--config", pre, "--data", root, "--out", out, "--epochs", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "figure "+filepath.Join(out, "reconstruction.png")) {
		t.Errorf("no reconstruction figure listed:\n%s", text)
	}
	cfg, err := pretrain.ReadConfig(filepath.Join(out, pretrain.ConfigFile))
	if err != nil || cfg.Data != "shapenet:"+root {
		t.Errorf("config %+v, %v", cfg, err)
	}
	// A folder of meshes at several depths: 12 files, 3 held out.
	dir := t.TempDir()
	for i := 0; i < 12; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%3), fmt.Sprintf("m%d.off", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		m := &pointcloud.Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 0, 1 + float32(i), 0, 0, 0, 1}, Faces: []int32{0, 1, 2, 0, 1, 3, 0, 2, 3, 1, 2, 3}}
		if err := pointcloud.WriteFile(p, m); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "d1", "notes.txt"), []byte("not a cloud\n"), 0o644) // left out, said
	out = filepath.Join(t.TempDir(), "folder")
	text, err = run(t, "pretrain", "folder", "--config", pre, "--data", dir, "--data-points", "256", "--hold-out", "0.25",
		"--test-loss", "--out", out, "--epochs", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "9 train clouds, 3 held out") || !strings.Contains(text, "reconstruction.png") ||
		!strings.Contains(text, "left out 1 file(s)") || !strings.Contains(text, "notes.txt") {
		t.Errorf("folder run:\n%s", text)
	}
}

// blob is a lumpy cloud of n points, different for each k.
func blob(n, k int) *pointcloud.Cloud {
	c := &pointcloud.Cloud{XYZ: make([]float32, 3*n)}
	for i := 0; i < n; i++ {
		y := 1 - 2*(float64(i)+0.5)/float64(n)
		r := math.Sqrt(1-y*y) * (1 + 0.3*math.Sin(float64(k+3)*y))
		a := float64(i) * 2.39996
		c.XYZ[3*i], c.XYZ[3*i+1], c.XYZ[3*i+2] = float32(r*math.Cos(a)*2), float32(y), float32(r*math.Sin(a))
	}
	return c
}

// TestPresetsPretrain: pcx presets lists the pretraining presets and each
// subcommand's default, in text and JSON.
func TestPresetsPretrain(t *testing.T) {
	text, err := run(t, "presets")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Pretraining presets", "  pointmae ", "  synth ", "shapenet→pointmae", "folder→synth"} {
		if !strings.Contains(text, want) {
			t.Errorf("pcx presets lacks %q", want)
		}
	}
	js, err := run(t, "presets", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Models           []json.RawMessage       `json:"models"`
		PretrainModels   []struct{ Name string } `json:"pretrain_models"`
		PretrainDefaults map[string]string       `json:"pretrain_defaults"`
	}
	if err := json.Unmarshal([]byte(js), &r); err != nil || len(r.Models) == 0 || len(r.PretrainModels) != 2 || r.PretrainDefaults["shapenet"] != "pointmae" {
		t.Errorf("pcx presets --json: %v, %+v", err, r)
	}
}
