package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/train"
)

var sphereOFF = filepath.Join("..", "..", "testdata", "formats", "sphere.off")

// tinyCheckpoint writes a checkpoint of an untrained tiny DAPT-X on the
// data set of tinyRun, without training; poison sets one head weight to
// NaN (as a diverged run leaves them). It returns the checkpoint's path.
func tinyCheckpoint(t *testing.T, poison bool) string {
	t.Helper()
	var cfg classify.Config
	if _, err := classify.ReadConfigFile(tinyRun(t, 1), &cfg); err != nil {
		t.Fatal(err)
	}
	data, err := classify.LoadData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := classify.NewModel(cfg.Model, train.Stream(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if poison {
		for _, p := range m.Params() {
			if strings.HasPrefix(p.Name, "cls_head") || strings.HasPrefix(p.Name, "head") {
				p.Data[0] = float32(math.NaN())
			}
		}
	}
	cj, _ := json.Marshal(cfg)
	classes, _ := json.Marshal(data.Classes)
	p := filepath.Join(t.TempDir(), "model.safetensors")
	if err := checkpoint.Save(p, m.Params(), nil, map[string]string{classify.MetaConfig: string(cj), classify.MetaClasses: string(classes)}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlagErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"sample", sphereOFF, "--seed", "abc"}, []string{"--seed", `"abc"`, "whole number"}},
		{[]string{"sample", sphereOFF, "--points", "1.5"}, []string{"--points", `"1.5"`}},
		{[]string{"sample", sphereOFF, "--points", "99999999999999999999999"}, []string{"--points", "range"}},
		{[]string{"train", "synth", "--seed", "-1"}, []string{"--seed", `"-1"`}},
		{[]string{"fps", sphereOFF, "--plain=maybe"}, []string{"--plain", `"maybe"`, "true or false"}},
		{[]string{"group", sphereOFF, "--nope", "1"}, []string{"unknown flag", "--nope"}},
		{[]string{"group", sphereOFF, "--method", "nope"}, []string{"--method", `"nope"`}},
		{[]string{"bench", "fps", "--batch"}, []string{"--batch", "needs a value"}},
		{[]string{"--blas", "go", "version", "--json=x"}, []string{"--json", `"x"`}},
	} {
		_, err := run(t, tc.args...)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not say %s", tc.args, err, w)
			}
		}
	}
}

// TestSampleStdoutAsDocumented: without --out, pcx sample prints what its
// help says, x y z nx ny nz lines.
func TestSampleStdoutAsDocumented(t *testing.T) {
	out, err := run(t, "sample", sphereOFF, "--points", "7")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7", len(lines))
	}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) != 6 {
			t.Fatalf("line %q has %d columns, want 6", l, len(f))
		}
	}
	cmd := sampleCommand()
	var usage string
	for _, f := range cmd.Flags {
		if f.Names()[0] == "out" {
			usage = f.String()
		}
	}
	if !strings.Contains(usage, "x y z nx ny nz") || !strings.Contains(cmd.Description, "x y z nx ny nz") {
		t.Errorf("help does not say x y z nx ny nz: %q\n%s", usage, cmd.Description)
	}
}

// TestRefusesHugeSizes: sizes that would need more memory than the machine
// has are errors saying how much, before anything is allocated.
func TestRefusesHugeSizes(t *testing.T) {
	dir := t.TempDir()
	ckpt := tinyCheckpoint(t, false)
	cfg := tinyRun(t, 1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "folder", "--config", cfg, "--out", filepath.Join(dir, "r1"), "--workers", "1000000000"}, "would need"},
		{[]string{"train", "folder", "--config", cfg, "--out", filepath.Join(dir, "r2"), "--batch", "1000000000"}, "would need"},
		{[]string{"sample", sphereOFF, "--points", "1000000000000"}, "would need"},
		{[]string{"sample", sphereOFF, "--points", "3000000000", "--out", filepath.Join(dir, "x.npy")}, "3000000000"},
		{[]string{"data", "info", "synth", "--points", "1000000000000"}, "would need"},
		{[]string{"data", "export", "synth", "--points", "1000000000000", "--out", filepath.Join(dir, "e")}, "would need"},
		{[]string{"bench", "fps", "--points", "1000000000", "--batch", "1000", "--centres", "10"}, "would need"},
		{[]string{"bench", "knn", "--points", "1000000", "--centres", "1000000", "--k", "1000000", "--batch", "1"}, "would need"},
		{[]string{"bench", "engine", "--tokens", "100000", "--blocks", "12"}, "would need"},
		{[]string{"bench", "step", "--depth", "1000000"}, "would need"},
		{[]string{"bench", "step", "--batch", "100000000"}, "would need"},
		{[]string{"predict", "--ckpt", ckpt, "--mesh-points", "1000000000000", sphereOFF}, "would need"},
		{[]string{"eval", "--ckpt", ckpt, "--batch", "1000000000"}, "would need"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (want an error saying %q)", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.npy")); err == nil {
		t.Error("a refused sample wrote its output")
	}
}

// TestRefusesBadCounts: a negative or zero count is an error naming the
// flag, never the default in silence.
func TestRefusesBadCounts(t *testing.T) {
	ckpt := tinyCheckpoint(t, false)
	for _, args := range [][]string{
		{"sample", sphereOFF, "--points", "-3"},
		{"data", "info", "synth", "--points", "-3"},
		{"fps", sphereOFF, "--n", "0"},
		{"fps", sphereOFF, "--plain", "--start", "-1"},
		{"group", sphereOFF, "--k", "-1"},
		{"group", sphereOFF, "--groups", "0"},
		{"bench", "knn", "--repeat", "1", "--k", "-1"},
		{"bench", "step", "--points", "-5"},
		{"bench", "engine", "--repeat", "0"},
		{"bench", "engine", "--tokens", "0"},
		{"eval", "--ckpt", ckpt, "--votes", "0", "--vote"},
		{"eval", "--ckpt", ckpt, "--batch", "-1"},
		{"predict", "--ckpt", ckpt, "--top", "-1", sphereOFF},
		{"predict", "--ckpt", ckpt, "--mesh-points", "-1", sphereOFF},
	} {
		_, err := run(t, args...)
		if err == nil {
			t.Errorf("%v: no error", args)
			continue
		}
		flag := args[len(args)-2]
		if args[0] == "predict" {
			flag = args[len(args)-3]
		}
		if strings.HasPrefix(flag, "-") && !strings.Contains(err.Error(), dashed(strings.TrimLeft(flag, "-"))) {
			t.Errorf("%v: %q does not name %s", args, err, flag)
		}
	}
}

// TestOutputsAreNotOverwritten: sample, fps and data export refuse an
// existing output unless --overwrite; the file is left as it was.
func TestOutputsAreNotOverwritten(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "s.xyz")
	os.WriteFile(out, []byte("keep\n"), 0o644)
	for _, args := range [][]string{
		{"sample", sphereOFF, "--points", "10", "--out", out},
		{"fps", sphereOFF, "--n", "3", "--out", out},
		{"fps", sphereOFF, "--n", "3", "--indices", "--out", out},
	} {
		if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "--overwrite") {
			t.Errorf("%v: %v (want a refusal)", args, err)
		}
		if b, _ := os.ReadFile(out); string(b) != "keep\n" {
			t.Fatalf("%v replaced the file", args)
		}
	}
	if _, err := run(t, "sample", sphereOFF, "--points", "10", "--out", out, "--overwrite"); err != nil {
		t.Fatal(err)
	}
	if c, err := pointcloud.ReadFile(out); err != nil || c.Len() != 10 {
		t.Fatalf("--overwrite: %v %v", c, err)
	}
	idx := filepath.Join(dir, "idx.txt")
	if _, err := run(t, "fps", sphereOFF, "--n", "3", "--indices", "--out", idx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(idx); len(strings.Fields(string(b))) != 3 {
		t.Errorf("fps --indices --out wrote %q", b)
	}
	exp := filepath.Join(dir, "export")
	os.MkdirAll(exp, 0o755)
	os.WriteFile(filepath.Join(exp, "notes.txt"), []byte("mine"), 0o644)
	if _, err := run(t, "data", "export", "synth", "--points", "64", "--format", "npy", "--out", exp); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("export into a non-empty folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(exp, "shape_names.txt")); err == nil {
		t.Error("a refused export wrote files")
	}
}

// TestEvalPredictionsAndLogits: pcx eval --predictions writes one row per
// test sample with its logits, as CSV or JSON lines; pcx predict --json
// gives the logits with the probabilities.
func TestEvalPredictionsAndLogits(t *testing.T) {
	ckpt := tinyCheckpoint(t, false)
	dir := t.TempDir()
	csvOut, jsonlOut := filepath.Join(dir, "p.csv"), filepath.Join(dir, "p.jsonl")
	js, err := run(t, "eval", "--ckpt", ckpt, "--json", "--predictions", csvOut)
	if err != nil {
		t.Fatal(err)
	}
	var rep classify.EvalReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(csvOut)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != rep.Samples+1 {
		t.Fatalf("%d CSV rows for %d samples: %v", len(rows), rep.Samples, err)
	}
	classes := len(rep.PerClass)
	if len(rows[0]) != 3+classes || rows[0][0] != "index" || rows[0][3] != "logit_"+rep.PerClass[0].Name {
		t.Fatalf("CSV header %q", rows[0])
	}
	correct := 0
	for i, r := range rows[1:] {
		if r[0] != strconv.Itoa(i) {
			t.Fatalf("row %d: index %q", i, r[0])
		}
		best, bestV := "", math.Inf(-1)
		for k, s := range r[3:] {
			v, err := strconv.ParseFloat(s, 32)
			if err != nil {
				t.Fatal(err)
			}
			if v > bestV {
				best, bestV = rep.PerClass[k].Name, v
			}
		}
		if best != r[2] {
			t.Errorf("row %d: prediction %s, largest logit %s", i, r[2], best)
		}
		if r[1] == r[2] {
			correct++
		}
	}
	if float64(correct)/float64(rep.Samples) != rep.Acc {
		t.Errorf("%d of %d rows correct, accuracy %v", correct, rep.Samples, rep.Acc)
	}
	// An existing file is not replaced without --overwrite.
	before, _ := os.ReadFile(csvOut)
	if _, err := run(t, "eval", "--ckpt", ckpt, "--predictions", csvOut); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("existing --predictions file: %v", err)
	}
	if after, _ := os.ReadFile(csvOut); string(after) != string(before) {
		t.Error("the predictions file was replaced")
	}
	if _, err := run(t, "eval", "--ckpt", ckpt, "--predictions", filepath.Join(dir, "p.txt")); err == nil {
		t.Error("--predictions p.txt: no error")
	}
	if _, err := run(t, "eval", "--ckpt", ckpt, "--predictions", jsonlOut); err != nil {
		t.Fatal(err)
	}
	jf, _ := os.Open(jsonlOut)
	sc := bufio.NewScanner(jf)
	n := 0
	for sc.Scan() {
		var p classify.SamplePrediction
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil || p.Index != n || len(p.Logits) != classes || p.Label == "" {
			t.Fatalf("line %d: %+v %v", n, p, err)
		}
		n++
	}
	jf.Close()
	if n != rep.Samples {
		t.Errorf("%d JSON lines for %d samples", n, rep.Samples)
	}

	out, err := run(t, "predict", "--ckpt", ckpt, "--top", "3", "--json", sphereOFF)
	if err != nil {
		t.Fatal(err)
	}
	var preds []classify.Prediction
	if err := json.Unmarshal([]byte(out), &preds); err != nil || len(preds) != 1 {
		t.Fatalf("%v %s", err, out)
	}
	p := preds[0]
	if len(p.Logits) != 3 || len(p.Probs) != 3 {
		t.Fatalf("prediction %+v", p)
	}
	// The probabilities are the softmax of the logits.
	if r := p.Probs[0] / p.Probs[1]; math.Abs(r-math.Exp(float64(p.Logits[0]-p.Logits[1]))) > 1e-4*r {
		t.Errorf("probabilities %v do not follow the logits %v", p.Probs, p.Logits)
	}
}

// TestPredictRefusesNaN: a checkpoint with NaN weights is an error naming
// it, for predict as for eval.
func TestPredictRefusesNaN(t *testing.T) {
	ckpt := tinyCheckpoint(t, true)
	for _, args := range [][]string{
		{"predict", "--ckpt", ckpt, sphereOFF},
		{"eval", "--ckpt", ckpt},
	} {
		out, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), ckpt) || !strings.Contains(err.Error(), "NaN") {
			t.Errorf("%v: %v (printed %q)", args[0], err, out)
		}
	}
}

// TestSampleInterruptedLeavesNoTemporary stops pcx sample with SIGTERM
// while it writes its output: neither the output nor a temporary remains.
func TestSampleInterruptedLeavesNoTemporary(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a large file")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "big.xyz")
	cmd := exec.Command(os.Args[0], "sample", sphereOFF, "--points", "4000000", "--out", out)
	cmd.Env = append(os.Environ(), "PCX_TEST_RUN_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tmp := ""
	for i := 0; i < 2000 && tmp == ""; i++ {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if atomicfile.IsTemp(e.Name()) {
				tmp = e.Name()
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if tmp == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("no temporary file appeared")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err == nil {
		t.Skip("the write finished before the signal")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left %s after SIGTERM (%v)", e.Name(), err)
	}
}
