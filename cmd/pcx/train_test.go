package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// TestMain lets tests run pcx as a child process (to kill it).
func TestMain(m *testing.M) {
	if os.Getenv("PCX_TEST_RUN_MAIN") == "1" {
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
	tc := train.PointMAE()
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

// TestKillAndResume kills training runs with SIGKILL at random moments, and
// interrupts one as Ctrl-C does, and resumes them: they end with the
// metrics of an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three times")
	}
	cfg := tinyRun(t, 4)
	ref := filepath.Join(t.TempDir(), "ref")
	start := time.Now()
	if _, err := run(t, "train", "folder", "--config", cfg, "--out", ref, "--plots=false"); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	want := metricsOf(t, ref)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for attempt, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGKILL, syscall.SIGINT} {
		out := filepath.Join(t.TempDir(), "run")
		cmd := exec.Command(os.Args[0], "train", "folder", "--config", cfg, "--out", out, "--plots=false")
		cmd.Env = append(os.Environ(), "PCX_TEST_RUN_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the run has started writing (its first checkpoint),
		// then stop it at a random moment within the first 60% of a run.s length.
		for i := 0; i < 600; i++ {
			if _, err := os.Stat(filepath.Join(out, train.LastFile)); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		delay := time.Duration(0.6 * r.Float64() * float64(total))
		time.Sleep(delay)
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		t.Logf("attempt %d: %v after %v of a %v run: %v", attempt, sig, delay, total, err)
		if ee, ok := err.(*exec.ExitError); sig == syscall.SIGINT && ok && ee.ExitCode() != 130 {
			t.Errorf("after Ctrl-C pcx exited with %d, want 130 (state saved)", ee.ExitCode())
		}
		if _, err := run(t, "train", "folder", "--resume", "--out", out, "--plots=false"); err != nil {
			t.Fatalf("resume: %v", err)
		}
		got := metricsOf(t, out)
		if len(got) != len(want) {
			t.Fatalf("%d epochs after resuming, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("epoch %d after kill and resume:\n%+v\nwant\n%+v", i+1, got[i], want[i])
			}
		}
		matches, _ := filepath.Glob(filepath.Join(out, "*.tmp*"))
		if len(matches) > 0 {
			t.Logf("temporary files left by the kill (harmless, never read): %v", matches)
		}
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
	if err != nil || again != objonly {
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
