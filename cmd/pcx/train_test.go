package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// TestMain lets tests run pcx as a child process (to kill it).
func TestMain(m *testing.M) {
	if os.Getenv("PCX_TEST_RUN_MAIN") == "1" {
		if m := os.Getenv("PCX_TEST_HOLD_AT"); m != "" {
			h := &holdAt{marker: m, sig: make(chan os.Signal, 1)}
			signal.Notify(h.sig, os.Interrupt)
			trainLogHook = func(w io.Writer) io.Writer { h.w = w; return h }
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyRun exports a small synth data set as npy and writes a pcx
// configuration of a tiny DAPT-X on it; it returns the config path.
func tinyRun(t *testing.T, epochs int) string {
	t.Helper()
	dir := t.TempDir()
	d, err := datasets.LoadSynth(synth.Options{Train: 3, Test: 1, Points: 512, Variant: "clean", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := datasets.Export(d, filepath.Join(dir, "data"), datasets.ExportNPY); err != nil {
		t.Fatal(err)
	}
	m, err := classify.ResolveModel("synth", "dapt-x", 16)
	if err != nil {
		t.Fatal(err)
	}
	m.TransDim, m.Depth, m.Heads, m.Points, m.Groups, m.GroupSize, m.Rank = 24, 2, 2, 128, 8, 8, 6
	tc := train.PointMAEFineTune()
	tc.Epochs, tc.BatchSize, tc.EvalBatch, tc.LR, tc.WarmupEpochs, tc.Seed, tc.Workers = epochs, 8, 8, 1e-3, 1, 4, 2
	cfg := classify.Config{Version: 1, Data: "npy:" + filepath.Join(dir, "data"), Model: m, Train: tc}
	p := filepath.Join(dir, "tiny.yaml")
	if err := classify.WriteConfig(p, cfg); err != nil {
		t.Fatal(err)
	}
	return p
}

func metricsOf(t *testing.T, dir string) []train.EpochMetrics {
	t.Helper()
	ms, err := train.ReadMetrics(filepath.Join(dir, train.MetricsJSONL))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		ms[i] = m.WithoutTimes()
	}
	return ms
}

func TestTrainEvalPlotCommands(t *testing.T) {
	cfg := tinyRun(t, 2)
	out := filepath.Join(t.TempDir(), "run")
	text, err := run(t, "train", "folder", "--config", cfg, "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		BestAcc float64  `json:"best_acc"`
		Figures []string `json:"figures"`
	}
	if err := json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &res); err != nil {
		t.Fatalf("%v in %q", err, text)
	}
	for _, f := range []string{"curves.png", "routing.png", "gates.png", "tsne.png", "config.yaml", "metrics.csv", "best.safetensors", "last.safetensors"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if len(res.Figures) != 4 {
		t.Errorf("figures %v", res.Figures)
	}
	text, err = run(t, "eval", "--ckpt", filepath.Join(out, "best.safetensors"), "--vote", "--votes", "2", "--repeats", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep classify.EvalReport
	if err := json.Unmarshal([]byte(text), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Acc != res.BestAcc || rep.Vote == nil || rep.Vote.Max != 0 {
		t.Errorf("eval %+v (training's best %v); the max is printed only with --max", rep, res.BestAcc)
	}
	if _, err := run(t, "eval", "--ckpt", filepath.Join(out, "nope.safetensors")); err == nil {
		t.Error("eval of a missing checkpoint: no error")
	}
	if _, err := run(t, "train", "scanobjectnn"); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("scanobjectnn without --data: %v", err)
	}
}

// TestKillAndResume stops training runs in a child process, twice with
// SIGKILL and once with an interrupt as Ctrl-C sends, each at a chosen
// epoch (the child holds its run there until the signal comes), and
// resumes them: they end with the metrics of an uninterrupted run. While a
// child holds its run directory, other runs into it are refused.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four times")
	}
	cfg := tinyRun(t, 4)
	ref := filepath.Join(t.TempDir(), "ref")
	if _, err := run(t, "train", "folder", "--config", cfg, "--out", ref, "--plots=false"); err != nil {
		t.Fatal(err)
	}
	want := metricsOf(t, ref)
	for _, tc := range []struct {
		sig   syscall.Signal
		epoch int // the child stops after this epoch's line
	}{{syscall.SIGKILL, 1}, {syscall.SIGKILL, 3}, {syscall.SIGINT, 2}} {
		out := filepath.Join(t.TempDir(), "run")
		cmd := exec.Command(os.Args[0], "train", "folder", "--config", cfg, "--out", out, "--plots=false")
		cmd.Env = append(os.Environ(), "PCX_TEST_RUN_MAIN=1", fmt.Sprintf("PCX_TEST_HOLD_AT=epoch %3d/4", tc.epoch))
		stdout, printed, stderr, held := startHolding(t, cmd)
		if !held {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the child did not reach epoch %d:\n%s%s", tc.epoch, printed, stderr.String())
		}
		// The child owns the directory: no other run may use it.
		for _, args := range [][]string{{"--resume"}, {"--config", cfg, "--overwrite"}} {
			_, err := run(t, append([]string{"train", "folder", "--out", out, "--plots=false"}, args...)...)
			if !errors.Is(err, train.ErrBusy) || !strings.Contains(err.Error(), fmt.Sprintf("by another pcx run (process %d)", cmd.Process.Pid)) {
				t.Errorf("%v while another run owns %s: %v", args, out, err)
			}
		}
		if err := cmd.Process.Signal(tc.sig); err != nil {
			t.Fatalf("signal: %v", err)
		}
		go io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("after %v at epoch %d the child ended with %v, want stopped by the signal", tc.sig, tc.epoch, err)
		}
		ws := ee.Sys().(syscall.WaitStatus)
		switch {
		case tc.sig == syscall.SIGKILL && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL):
			t.Fatalf("after SIGKILL the child ended with %v", err)
		case tc.sig == syscall.SIGINT && ee.ExitCode() != 130:
			t.Fatalf("after Ctrl-C pcx ended with %v, want exit status 130 (state saved)\n%s", err, stderr.String())
		case tc.sig == syscall.SIGINT && !strings.Contains(stderr.String(), "interrupted at epoch 3"):
			t.Errorf("after Ctrl-C pcx said %q", stderr.String())
		}
		// A write the kill cut short leaves a temporary; resuming removes it.
		stale := filepath.Join(out, ".last.safetensors.tmp123456")
		if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := run(t, "train", "folder", "--resume", "--out", out, "--plots=false"); err != nil {
			t.Fatalf("resume after %v at epoch %d: %v", tc.sig, tc.epoch, err)
		}
		got := metricsOf(t, out)
		if len(got) != len(want) {
			t.Fatalf("%d epochs after resuming, want %d", len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("epoch %d after %v at epoch %d and resume:\n%+v\nwant\n%+v", i+1, tc.sig, tc.epoch, got[i], want[i])
			}
		}
		if left, _ := filepath.Glob(filepath.Join(out, ".*.tmp*")); len(left) > 0 {
			t.Errorf("temporary files left after resuming: %v", left)
		}
	}
}

// startHolding starts cmd, a child run with PCX_TEST_HOLD_AT, and reads
// its output until it prints holding (held) or ends. It returns its output
// (to read on from there), what it printed before, and its error stream.
func startHolding(t *testing.T, cmd *exec.Cmd) (stdout io.Reader, printed string, stderr *strings.Builder, held bool) {
	t.Helper()
	stderr = &strings.Builder{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if strings.TrimSuffix(line, "\n") == holding {
			return r, b.String(), stderr, true
		}
		b.WriteString(line)
		if err != nil {
			return r, b.String(), stderr, false
		}
	}
}

// holding is what a child run prints when it holds at PCX_TEST_HOLD_AT.
const holding = "PCX TEST: holding"

// holdAt is the child's log writer: after the line containing marker it
// prints holding and waits for an interrupt (or to be killed).
type holdAt struct {
	w      io.Writer
	marker string
	sig    chan os.Signal
}

func (h *holdAt) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	if h.marker != "" && strings.Contains(string(p), h.marker) {
		h.marker = ""
		fmt.Fprintln(h.w, holding)
		<-h.sig
	}
	return n, err
}

// An interrupted run returns its error with exit status 130 to main after
// the command's deferred cleanups ran (here: the run directory is free
// again), instead of ending the process from inside the command.
func TestTrainInterruptExitsAfterCleanup(t *testing.T) {
	cfg := tinyRun(t, 3)
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oldCtx, oldHook := interruptContext, trainLogHook
	defer func() { interruptContext, trainLogHook = oldCtx, oldHook }()
	interruptContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	trainLogHook = func(w io.Writer) io.Writer { return cancelAt{w, "epoch   1/3", cancel} }
	_, err := run(t, "train", "folder", "--config", cfg, "--out", out, "--plots=false")
	if !errors.Is(err, train.ErrInterrupted) || exitCode(err) != 130 {
		t.Fatalf("interrupted run: %v (exit status %d), want ErrInterrupted with 130", err, exitCode(err))
	}
	if want := "pcx train folder --resume --out " + out + " --plots=false"; !strings.HasSuffix(err.Error(), "\n   "+want) {
		t.Errorf("interrupted run: %q, want it to end with the command that continues it, %q", err, want)
	}
	l, err := train.Lock(out)
	if err != nil {
		t.Fatalf("the run directory after the interrupted run: %v", err)
	}
	l.Unlock()
	if exitCode(errors.New("x")) != 1 {
		t.Error("a plain error's exit status is not 1")
	}
}

// cancelAt cancels after writing the text containing marker.
type cancelAt struct {
	w      io.Writer
	marker string
	cancel func()
}

func (c cancelAt) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.marker) {
		c.cancel()
	}
	return c.w.Write(p)
}

// A new run into a directory that holds a run is refused and changes
// nothing; --overwrite replaces it; --resume with --overwrite is refused.
func TestTrainRunDirectory(t *testing.T) {
	cfg := tinyRun(t, 1)
	out := filepath.Join(t.TempDir(), "run")
	if _, err := run(t, "train", "folder", "--config", cfg, "--out", out, "--plots=false"); err != nil {
		t.Fatal(err)
	}
	files := []string{"config.yaml", "metrics.jsonl", "last.safetensors", "best.safetensors"}
	before := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = string(b)
	}
	_, err := run(t, "train", "folder", "--config", cfg, "--out", out, "--seed", "9", "--plots=false")
	if !errors.Is(err, train.ErrRunExists) || !strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("a new run over a run: %v, want a refusal naming --resume and --overwrite", err)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(filepath.Join(out, f)); string(b) != before[f] {
			t.Errorf("the refused run changed %s", f)
		}
	}
	if _, err := run(t, "train", "folder", "--resume", "--overwrite", "--out", out); err == nil || !strings.Contains(err.Error(), "one of them") {
		t.Errorf("--resume --overwrite: %v", err)
	}
	if _, err := run(t, "train", "folder", "--config", cfg, "--out", out, "--seed", "9", "--overwrite", "--plots=false"); err != nil {
		t.Fatalf("--overwrite: %v", err)
	}
	got, err := classify.ReadRunConfig(out)
	if err != nil || got.Train.Seed != 9 {
		t.Errorf("after --overwrite the run directory's config has seed %d (%v), want 9", got.Train.Seed, err)
	}
}

func TestEvalSpec(t *testing.T) {
	for _, tc := range []struct{ arg, data, trained, want string }{
		{"modelnet40", "", "modelnet40:/d/mn", "modelnet40:/d/mn"},
		{"modelnet40", "/e/mn", "modelnet40:/d/mn", "modelnet40:/e/mn"},
		{"scanobjectnn:/x", "", "synth", "scanobjectnn:/x"},
		{"synth", "", "scanobjectnn:/x", "synth"},
		{"", "/e/mn", "modelnet40:/d/mn", "modelnet40:/e/mn"},
		{"modelnet40", "", "synth", ""},
		{"/some/folder", "/e", "synth", ""},
	} {
		got, err := evalSpec(tc.arg, tc.data, tc.trained)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("evalSpec(%q, %q, %q) = %q, %v; want %q", tc.arg, tc.data, tc.trained, got, err, tc.want)
		}
	}
}

// configFor runs trainConfig for kind with args, as pcx train would.
func configFor(t *testing.T, kind string, args ...string) (classify.Config, error) {
	t.Helper()
	var k trainKind
	for _, tk := range trainKinds {
		if tk.name == kind {
			k = tk
		}
	}
	var cfg classify.Config
	var cerr error
	app := &cli.App{Commands: []*cli.Command{{Name: "x", Flags: trainFlags(k), Action: func(c *cli.Context) error {
		cfg, cerr = trainConfig(c, k)
		return nil
	}}}}
	if err := app.Run(append([]string{"pcx", "x"}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, cerr
}

func TestTrainConfigFiles(t *testing.T) {
	// A DAPT hardest file picks the hardest preset and DAPT's settings for it.
	cfg, err := configFor(t, "scanobjectnn", "--data", "/d", "--config", "../../classify/testdata/finetune_scan_hardest_dapt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Model; m.Preset != "scan_hardest" || m.Method != "dapt" || m.AdapterDropout != 0.2 || cfg.Variant != "hardest" || m.DropPath != 0.3 {
		t.Errorf("DAPT hardest file: variant %q, model %+v", cfg.Variant, m)
	}
	// A pcx config.yaml comes back whole, zero fields included.
	objonly, err := configFor(t, "scanobjectnn", "--data", "/d", "--variant", "objonly", "--method", "dapt")
	if err != nil {
		t.Fatal(err)
	}
	if objonly.Model.HeadPatch != "" || objonly.Model.AdapterDropout != 0 {
		t.Fatalf("objonly DAPT: %+v", objonly.Model)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := classify.WriteConfig(p, objonly); err != nil {
		t.Fatal(err)
	}
	again, err := configFor(t, "scanobjectnn", "--config", p)
	if err != nil || !reflect.DeepEqual(again, objonly) {
		t.Errorf("config.yaml read back: %v\n%+v\nwant\n%+v", err, again, objonly)
	}
	if _, err := configFor(t, "scanobjectnn", "--config", p, "--preset", "modelnet"); err == nil {
		t.Error("--preset with a pcx config: no error")
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("pcx: 1\ndata: synth\ntrain: {learning_rate: 0.1}\n"), 0o644)
	if _, err := configFor(t, "synth", "--config", bad); err == nil || !strings.Contains(err.Error(), "learning_rate") {
		t.Errorf("misspelt key: %v", err)
	}
	// Flags given win over the file.
	if c, err := configFor(t, "scanobjectnn", "--config", p, "--lr", "0.01", "--seed", "9"); err != nil || c.Train.LR != 0.01 || c.Train.Seed != 9 {
		t.Errorf("flags over the file: %v %+v", err, c.Train)
	}
}

func TestResumeRefusesNewSettings(t *testing.T) {
	if _, err := run(t, "train", "synth", "--resume", "--out", t.TempDir(), "--lr", "0.1"); err == nil || !strings.Contains(err.Error(), "--lr") {
		t.Errorf("--resume with --lr: %v", err)
	}
}

func TestPredictNormalizes(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		trained string
		want    bool
	}{
		{nil, "synth", true},
		{nil, "modelnet40:/d", true},
		{nil, "scanobjectnn:/d", false},
		{[]string{"--normalize"}, "scanobjectnn:/d", true},
		{[]string{"--normalize=false"}, "synth", false},
	} {
		var got bool
		app := &cli.App{Commands: []*cli.Command{{Name: "x", Flags: []cli.Flag{&cli.BoolFlag{Name: "normalize"}},
			Action: func(c *cli.Context) error { got = normalizeFor(c, tc.trained); return nil }}}}
		if err := app.Run(append([]string{"pcx", "x"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%v trained on %s: normalize %v, want %v", tc.args, tc.trained, got, tc.want)
		}
	}
}
