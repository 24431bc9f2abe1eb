package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/train"
)

// untrainedCheckpoint writes the checkpoint of an untrained tiny linear
// model of classes classes, 32 points, whose configuration says it was
// trained on data (with variant and dataPoints points per sample); it
// returns the checkpoint's path.
func untrainedCheckpoint(t *testing.T, data, variant string, dataPoints int, classes []string) string {
	t.Helper()
	m, err := classify.ResolveModel("synth", "linear", len(classes))
	if err != nil {
		t.Fatal(err)
	}
	m.TransDim, m.Depth, m.Heads, m.Points, m.Groups, m.GroupSize = 24, 2, 2, 32, 4, 8
	tc := train.PointMAEFineTune()
	tc.Epochs, tc.BatchSize, tc.EvalBatch, tc.Workers = 1, 8, 8, 2
	cfg := classify.Config{Version: 1, Data: data, Variant: variant, DataPoints: dataPoints, Model: m, Train: tc}
	model, err := classify.NewModel(m, train.Stream(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := json.Marshal(cfg)
	cl, _ := json.Marshal(classes)
	p := filepath.Join(t.TempDir(), "best.safetensors")
	if err := checkpoint.Save(p, model.Params(), nil, map[string]string{classify.MetaConfig: string(cj), classify.MetaClasses: string(cl)}); err != nil {
		t.Fatal(err)
	}
	return p
}

var scanObjectNNDir = filepath.Join("..", "..", "testdata", "datasets", "scanobjectnn")

// TestEvalNamedDataWins: the data set named on the command line (kind,
// folder, variant) is the one evaluated, not the checkpoint's, with a note
// when it differs from the training data.
func TestEvalNamedDataWins(t *testing.T) {
	synthCkpt := untrainedCheckpoint(t, "synth", "clean", 40, synth.Classes())
	for _, tc := range []struct {
		args     []string
		on, note string
	}{
		{[]string{"synth:hardest"}, "on synth-hardest (", "evaluating on synth (variant hardest); the checkpoint was trained on synth (variant clean)"},
		{nil, "on synth-clean (", ""},
		{[]string{"synth", "--variant", "bg"}, "on synth-bg (", "evaluating on synth (variant bg)"},
		{[]string{"--variant", "hardest"}, "on synth-hardest (", "evaluating on synth (variant hardest)"},
	} {
		out, errOut, err := runCapture(t, append([]string{"eval", "--ckpt", synthCkpt, "--batch", "32"}, tc.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if !strings.Contains(out, tc.on) {
			t.Errorf("%v: printed %q, want %q", tc.args, firstLine(out), tc.on)
		}
		if (tc.note == "") != !strings.Contains(errOut, "note:") || !strings.Contains(errOut, tc.note) {
			t.Errorf("%v: stderr %q, want the note %q", tc.args, errOut, tc.note)
		}
	}
	if _, _, err := runCapture(t, "eval", "--ckpt", synthCkpt, "synth:hardest", "--variant", "bg"); err == nil || !strings.Contains(err.Error(), "--variant") {
		t.Errorf("synth:hardest --variant bg: %v", err)
	}
	// A ScanObjectNN folder with a checkpoint trained on synth: the
	// folder's variant (hardest), or the one named, never synth's "clean".
	classes := make([]string, 15)
	for i := range classes {
		classes[i] = "c" + string(rune('a'+i))
	}
	sonnCkpt := untrainedCheckpoint(t, "synth", "clean", 0, classes)
	for _, tc := range []struct {
		args []string
		on   string
	}{
		{[]string{"scanobjectnn:" + scanObjectNNDir}, "on scanobjectnn-hardest ("},
		{[]string{"scanobjectnn:" + scanObjectNNDir, "--variant", "objbg"}, "on scanobjectnn-objbg ("},
		{[]string{"scanobjectnn", "--data", scanObjectNNDir}, "on scanobjectnn-hardest ("},
	} {
		out, errOut, err := runCapture(t, append([]string{"eval", "--ckpt", sonnCkpt}, tc.args...)...)
		if err != nil || !strings.Contains(out, tc.on) {
			t.Errorf("%v: %v, printed %q; want %q", tc.args, err, firstLine(out), tc.on)
		}
		if !strings.Contains(errOut, "note: evaluating on scanobjectnn:") || !strings.Contains(errOut, "trained on synth (variant clean)") {
			t.Errorf("%v: stderr %q, want a note", tc.args, errOut)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestEvalConfig(t *testing.T) {
	str := func(s string) *string { return &s }
	sonn := classify.Config{Data: "scanobjectnn:/d/so", Variant: "hardest"}
	syn := classify.Config{Data: "synth", Variant: "clean"}
	for _, tc := range []struct {
		trained       classify.Config
		arg, data     string
		given         *string
		spec, variant string
		note          bool
	}{
		{syn, "", "", nil, "synth", "clean", false},
		{syn, "synth:hardest", "", nil, "synth:hardest", "", true},
		{syn, "synth", "", nil, "synth", "clean", false},
		{syn, "synth:clean", "", nil, "synth:clean", "", false},
		{syn, "", "", str("bg"), "synth", "bg", true},
		{syn, "scanobjectnn:/d/so", "", nil, "scanobjectnn:/d/so", "", true},
		{syn, "scanobjectnn:/d/so", "", str("objonly"), "scanobjectnn:/d/so", "objonly", true},
		{sonn, "scanobjectnn", "", nil, "scanobjectnn:/d/so", "hardest", false},
		{sonn, "scanobjectnn", "/e/so", nil, "scanobjectnn:/e/so", "hardest", true},
		{sonn, "", "", str("objbg"), "scanobjectnn:/d/so", "objbg", true},
		{sonn, "synth", "", nil, "synth", "", true},
		{sonn, "npy:/n", "", nil, "npy:/n", "", true},
		{classify.Config{Data: "synth:hardest"}, "synth", "", nil, "synth", "hardest", false},
	} {
		cfg, note, err := evalConfig(tc.trained, tc.arg, tc.data, tc.given)
		if err != nil || cfg.Data != tc.spec || cfg.Variant != tc.variant || (note != "") != tc.note {
			t.Errorf("trained %s/%s, %q %q %v: %s/%s note %q, %v; want %s/%s note %v",
				tc.trained.Data, tc.trained.Variant, tc.arg, tc.data, tc.given, cfg.Data, cfg.Variant, note, err, tc.spec, tc.variant, tc.note)
		}
	}
}

// TestPredictReportsEachFile: a file that cannot be classified does not
// stop the others; each is reported (an "error" field with --json) and
// pcx exits non-zero at the end.
func TestPredictReportsEachFile(t *testing.T) {
	ckpt := untrainedCheckpoint(t, "synth", "clean", 0, synth.Classes())
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ply")
	if err := os.WriteFile(bad, []byte("ply\nformat nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.off")
	files := []string{sphereOFF, bad, missing, sphereOFF}
	out, errOut, err := runCapture(t, append([]string{"predict", "--ckpt", ckpt, "--top", "2"}, files...)...)
	if err == nil || exitCode(err) == 0 || !strings.Contains(err.Error(), "2 of 4 files") {
		t.Errorf("error %v, want 2 of 4 files failed", err)
	}
	if n := strings.Count(out, sphereOFF+":"); n != 2 {
		t.Errorf("%d results for the good files, want 2:\n%s", n, out)
	}
	for _, f := range []string{bad, missing} {
		if !strings.Contains(errOut, f) {
			t.Errorf("stderr does not report %s:\n%s", f, errOut)
		}
	}
	out, _, err = runCapture(t, append([]string{"predict", "--ckpt", ckpt, "--json"}, files...)...)
	if err == nil {
		t.Error("--json: no error with failed files")
	}
	var preds []classify.Prediction
	if jerr := json.Unmarshal([]byte(out), &preds); jerr != nil || len(preds) != len(files) {
		t.Fatalf("--json: %v, %d entries for %d files:\n%s", jerr, len(preds), len(files), out)
	}
	for i, p := range preds {
		failed := files[i] == bad || files[i] == missing
		if p.File != files[i] || failed != (p.Error != "") || failed != (len(p.Classes) == 0) {
			t.Errorf("entry %d: %+v", i, p)
		}
	}
	// Every file good: no error.
	if _, _, err := runCapture(t, "predict", "--ckpt", ckpt, sphereOFF); err != nil {
		t.Error(err)
	}
}

// TestCkptRunDirectory: --ckpt RUN_DIR takes the run's best.safetensors
// and says so; a directory without one, a YAML file or a .pth are refused,
// saying what they are; pcx train refuses a directory as pretrained
// weights.
func TestCkptRunDirectory(t *testing.T) {
	ckpt := untrainedCheckpoint(t, "synth", "clean", 40, synth.Classes())
	run := filepath.Dir(ckpt)
	for _, args := range [][]string{
		{"eval", "--ckpt", run, "--batch", "32"},
		{"predict", "--ckpt", run, sphereOFF},
	} {
		out, errOut, err := runCapture(t, args...)
		if err != nil || out == "" || !strings.Contains(errOut, run+" is a directory; using its best.safetensors") {
			t.Errorf("%s --ckpt RUN: %v, stderr %q", args[0], err, errOut)
		}
	}
	if out, _, err := runCapture(t, "eval", "--ckpt", run, "--batch", "32"); !strings.Contains(out, ckpt+" on ") {
		t.Errorf("eval does not name the checkpoint used: %q (%v)", firstLine(out), err)
	}
	empty := t.TempDir()
	yaml := filepath.Join(run, "config.yaml")
	if err := classify.WriteConfig(yaml, classify.Config{Version: 1, Data: "synth"}); err != nil {
		t.Fatal(err)
	}
	pth := filepath.Join("..", "..", "testdata", "state", "pointmae.pth")
	for _, tc := range []struct{ path, want string }{
		{empty, "is a directory without a best.safetensors"},
		{yaml, "is not a checkpoint"},
		{pth, "a PyTorch checkpoint, not a pcx training checkpoint"},
	} {
		for _, cmd := range []string{"eval", "predict"} {
			_, _, err := runCapture(t, cmd, "--ckpt", tc.path, sphereOFF)
			if cmd == "eval" {
				_, _, err = runCapture(t, cmd, "--ckpt", tc.path)
			}
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s --ckpt %s: %v; want %q", cmd, tc.path, err, tc.want)
			}
		}
	}
	// pcx train takes pretrained weights, never a run directory.
	cfg := filepath.Join(t.TempDir(), "tiny.yaml")
	tr, err := classify.LoadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if err := classify.WriteConfig(cfg, tr.Config); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCapture(t, "train", "synth", "--config", cfg, "--ckpt", run, "--out", filepath.Join(t.TempDir(), "r"), "--plots=false")
	if err == nil || !strings.Contains(err.Error(), run+" is a directory, not a checkpoint file") || !strings.Contains(err.Error(), ".pth") {
		t.Errorf("train --ckpt RUN: %v", err)
	}
}

// TestPredictUpFlag: --up turns a file to the model's up axis: a z-up copy
// of a cloud with --up z is classified as the y-up original; a bad axis is
// an error naming the flag.
func TestPredictUpFlag(t *testing.T) {
	ckpt := untrainedCheckpoint(t, "synth", "clean", 0, synth.Classes())
	c, err := pointcloud.ReadFile(sphereOFF)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pointcloud.SampleSurface(c, 256, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Stretch the sphere along y so that its orientation shows.
	for i := 1; i < len(s.XYZ); i += 3 {
		s.XYZ[i] *= 3
	}
	dir := t.TempDir()
	yFile, zFile := filepath.Join(dir, "y.xyz"), filepath.Join(dir, "z.xyz")
	if err := pointcloud.WriteFile(yFile, &pointcloud.Cloud{XYZ: s.XYZ}); err != nil {
		t.Fatal(err)
	}
	z := make([]float32, len(s.XYZ))
	for i := 0; i < len(z); i += 3 {
		z[i], z[i+1], z[i+2] = s.XYZ[i], -s.XYZ[i+2], s.XYZ[i+1]
	}
	if err := pointcloud.WriteFile(zFile, &pointcloud.Cloud{XYZ: z}); err != nil {
		t.Fatal(err)
	}
	// probs gives the probability of every class, in the model's order.
	probs := func(args ...string) map[string]float64 {
		t.Helper()
		out, _, err := runCapture(t, append([]string{"predict", "--ckpt", ckpt, "--top", "0", "--json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var preds []classify.Prediction
		if err := json.Unmarshal([]byte(out), &preds); err != nil || len(preds) != 1 {
			t.Fatalf("%v: %s", err, out)
		}
		m := map[string]float64{}
		for i, cl := range preds[0].Classes {
			m[cl] = preds[0].Probs[i]
		}
		return m
	}
	same := func(a, b map[string]float64) bool {
		for k, v := range a {
			if math.Abs(v-b[k]) > 1e-5 {
				return false
			}
		}
		return len(a) == len(b)
	}
	want := probs(yFile)
	if got := probs("--up", "z", zFile); !same(got, want) {
		t.Errorf("z-up copy with --up z: %v\nthe y-up original: %v", got, want)
	}
	if got := probs(zFile); same(got, want) {
		t.Error("the z-up copy without --up is classified as the original: the test cannot tell")
	}
	if got := probs("--up", "y", yFile); !same(got, want) {
		t.Errorf("--up y on a y-up file changes it: %v", got)
	}
	if _, _, err := runCapture(t, "predict", "--ckpt", ckpt, "--up", "q", yFile); err == nil || !strings.Contains(err.Error(), "--up") {
		t.Errorf("--up q: %v", err)
	}
}

// TestEvalInterrupted: an interruption ends pcx eval with status 130 and
// says that evaluation was interrupted and nothing written.
func TestEvalInterrupted(t *testing.T) {
	ckpt := untrainedCheckpoint(t, "synth", "clean", 40, synth.Classes())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	old := interruptContext
	defer func() { interruptContext = old }()
	interruptContext = func() (context.Context, context.CancelFunc) { return ctx, func() {} }
	preds := filepath.Join(t.TempDir(), "p.csv")
	out, _, err := runCapture(t, "eval", "--ckpt", ckpt, "--predictions", preds, "--json")
	if err == nil || exitCode(err) != 130 || !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("interrupted eval: %v (status %d)", err, exitCode(err))
	}
	if out != "" {
		t.Errorf("interrupted eval printed %q", out)
	}
	if _, serr := os.Stat(preds); !os.IsNotExist(serr) {
		t.Errorf("--predictions file after an interruption: %v", serr)
	}
}
