package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/pretrain"
)

// tinyPretrain writes a pretraining configuration of a tiny model, the
// encoder of tinyRun's, on tinyRun's data; it returns its path and
// tinyRun's fine-tuning configuration.
func tinyPretrain(t *testing.T) (pre, fine string) {
	t.Helper()
	fine = tinyRun(t, 1)
	c := pretrain.SynthConfig()
	c.Data, c.Variant = "npy:"+filepath.Join(filepath.Dir(fine), "data"), ""
	c.Probe, c.ProbeVariant = c.Data, "" // tinyRun's labelled clouds
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
	if res.Metric != "train_loss" || !(res.Best > 0) || res.Backbone != filepath.Join(out, pretrain.BackboneFile) || len(res.Figures) != 1 {
		t.Errorf("result %+v", res)
	}
	for _, f := range []string{"config.yaml", "metrics.jsonl", "metrics.csv", "last.safetensors", "best.safetensors", "backbone.safetensors", "curves.png"} {
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
	if _, err := os.Stat(filepath.Join(out, "curves.png")); err == nil {
		t.Error("--overwrite kept the old run's curves.png")
	}
	if text, err := run(t, "plot", "curves", out); err != nil || !strings.Contains(text, "curves.png") {
		t.Errorf("pcx plot curves: %q, %v", text, err)
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
