package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/pretrain"
	"github.com/pcx-dev/pcx/train"
)

// TestPretrainFashionMNISTProbe: pcx pretrain fashion-mnist probes its own
// labelled images by default, reports the last probe in --json, draws it
// in curves.png, and --no-probe turns it off (contradicting --probe).
func TestPretrainFashionMNISTProbe(t *testing.T) {
	data := idxFolder(t, 24, 6)
	out := filepath.Join(t.TempDir(), "run")
	text, err := run(t, "pretrain", "fashion-mnist", "--data", data, "--image-size", "8", "--subset", "8", "--epochs", "1",
		"--batch", "4", "--out", out, "--json", "--test-loss=false")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Probe      map[string]float64 `json:"probe"`
		ProbeEpoch int                `json:"probe_epoch"`
		Figures    []string           `json:"figures"`
	}
	if err := json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &res); err != nil {
		t.Fatalf("%v in\n%s", err, text)
	}
	if v, ok := res.Probe["svm_acc"]; !ok || !(v >= 0 && v <= 1) || res.ProbeEpoch != 1 {
		t.Errorf("probe %v (epoch %d), want svm_acc of epoch 1:\n%s", res.Probe, res.ProbeEpoch, text)
	}
	if !strings.Contains(text, "probe: a linear SVM on the encoder's cls features of") || len(res.Figures) != 2 {
		t.Errorf("output:\n%s", text)
	}
	cfg, err := pretrain.ReadImageConfig(filepath.Join(out, pretrain.ConfigFile))
	if err != nil || cfg.Probe != pretrain.ProbeSameData || cfg.ProbeTrain != 1000 || cfg.ProbeTest != 2000 {
		t.Errorf("config probe %q %d %d, %v", cfg.Probe, cfg.ProbeTrain, cfg.ProbeTest, err)
	}

	off := filepath.Join(t.TempDir(), "off")
	text, err = run(t, "pretrain", "fashion-mnist", "--data", data, "--image-size", "8", "--subset", "8", "--epochs", "1",
		"--batch", "4", "--out", off, "--json", "--test-loss=false", "--no-probe", "--plots=false")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, `"probe"`) || strings.Contains(text, "probe:") {
		t.Errorf("--no-probe probed:\n%s", text)
	}
	if _, err := run(t, "pretrain", "fashion-mnist", "--data", data, "--probe", data, "--no-probe", "--out", filepath.Join(t.TempDir(), "x")); err == nil ||
		!strings.Contains(err.Error(), "contradict") {
		t.Errorf("--probe with --no-probe: %v", err)
	}
	if _, err := run(t, "pretrain", "fashion-mnist", "--resume", "--no-probe", "--out", out); err == nil || !strings.Contains(err.Error(), "--no-probe") {
		t.Errorf("--resume --no-probe: %v", err)
	}
}

// TestCurveSeries: the curves leave out the columns no epoch has (a
// pretraining run's accuracies), draw each probe metric in a probe panel
// with gaps at the epochs not probed, and lastProbe finds the last probe.
func TestCurveSeries(t *testing.T) {
	ms := []train.EpochMetrics{
		{Epoch: 1, LR: 1e-3, Values: []train.Named{{Name: "train_loss", Value: 2}, {Name: "best_loss", Value: 2}}, BestEpoch: 1},
		{Epoch: 2, LR: 1e-3, Values: []train.Named{{Name: "train_loss", Value: 1.5}, {Name: "probe_svm_acc", Value: 0.6}, {Name: "best_loss", Value: 1.5}}, BestEpoch: 2},
		{Epoch: 3, LR: 1e-3, Values: []train.Named{{Name: "train_loss", Value: 1.2}, {Name: "best_loss", Value: 1.2}}, BestEpoch: 3},
	}
	series, cols := curveSeries(ms)
	var panels []string
	for _, s := range series {
		panels = append(panels, s.Panel+"/"+s.Name)
	}
	if got := strings.Join(panels, " "); got != "loss/train probe/svm_acc learning rate/learning rate" {
		t.Fatalf("series %s", got)
	}
	p := cols["probe_svm_acc"].Y
	if !math.IsNaN(p[0]) || p[1] != 0.6 || !math.IsNaN(p[2]) {
		t.Errorf("probe curve %v, want a value at epoch 2 only", p)
	}
	if col := bestColumn(t.TempDir(), ms[2]); col != "train_loss" {
		t.Errorf("best column %q", col)
	}
	pr := lastProbe(&train.Result{Epochs: ms})
	if pr.Epoch != 2 || pr.Values["svm_acc"] != 0.6 || pr.line() != "last probe svm_acc 0.6000 (epoch 2)" {
		t.Errorf("last probe %+v %q", pr, pr.line())
	}
	if pr := lastProbe(&train.Result{Epochs: ms[:1]}); pr.Epoch != 0 || pr.line() != "" {
		t.Errorf("no probe: %+v", pr)
	}
	dir := t.TempDir()
	var jl []byte
	for _, m := range ms {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		jl = append(append(jl, b...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, train.MetricsJSONL), jl, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := plotCurves(dir); err != nil {
		t.Errorf("curves of a probed run: %v", err)
	}
}
