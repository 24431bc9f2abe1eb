package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/urfave/cli/v2"
)

// --resume finds the default run directory as a new run names it, and a
// complete run is reported as such, with nothing changed.
func TestResumeDefaultDirAndComplete(t *testing.T) {
	cfg := tinyRun(t, 1)
	t.Chdir(t.TempDir())
	first, err := run(t, "train", "folder", "--config", cfg, "--plots=false")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first, "): preset synth, ") {
		t.Errorf("the header does not name the preset:\n%s", first)
	}
	dir := filepath.Join("runs", "folder-dapt-x")
	before := map[string]string{}
	files := []string{"config.yaml", "metrics.jsonl", "last.safetensors", "best.safetensors"}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = string(b)
	}
	out, err := run(t, "train", "folder", "--resume")
	if err != nil {
		t.Fatalf("--resume without --out: %v", err)
	}
	if want := "run " + dir + " is complete (1 epochs); nothing to do\n"; out != want {
		t.Errorf("resuming a complete run printed %q, want %q", out, want)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(filepath.Join(dir, f)); string(b) != before[f] {
			t.Errorf("resuming a complete run changed %s", f)
		}
	}
	for _, f := range runFigures {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("resuming a complete run drew %s", f)
		}
	}
	if _, err := run(t, "train", "folder", "--resume", "--method", "full"); err == nil || !strings.Contains(err.Error(), "no run to resume in "+filepath.Join("runs", "folder-full")) {
		t.Errorf("--resume --method full without a run: %v", err)
	}
}

// Every flag is checked before anything is created: a refused run leaves
// no run directory, and a refused export no folder.
func TestRefusedRunCreatesNothing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "synth", "--rotate", "w"}, `unknown axis "w"`},
		{[]string{"train", "synth", "--variant", "hard"}, `unknown variant "hard" for synth; choose from clean, bg, hardest`},
		{[]string{"train", "synth", "--device", "gpu"}, `unknown --device "gpu"`},
		{[]string{"train", "synth", "--data", "somewhere"}, "takes no --data"},
		{[]string{"train", "synth", "--epochs", "0"}, "epochs must be positive"},
		{[]string{"data", "export", "synth", "--format", "las"}, `unknown --format "las" (choose from h5, npy, ply)`},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, err := run(t, append(tc.args, "--out", out)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v left %s behind (%v)", tc.args, out, err)
		}
	}
}

// A slip in a command, a data set kind or a flag is answered with the
// nearest name and the choices.
func TestSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "sinth"}, `unknown data set kind "sinth" for pcx train; did you mean synth? (choose from synth, scanobjectnn, modelnet40, folder, vtab, images, fashion-mnist, mnist, cifar)`},
		{[]string{"data", "inf", "synth"}, `unknown subcommand "inf" for pcx data; did you mean info?`},
		{[]string{"trian"}, `unknown command "trian" for pcx; did you mean train?`},
		{[]string{"train", "synth", "--epoch", "3"}, `unknown flag "--epoch"; did you mean --epochs?`},
		{[]string{"data", "info", "sinth"}, `did you mean synth?`},
		{[]string{"data", "info", "modelnet:nowhere"}, `did you mean modelnet40?`},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if n := nearest("banana", []string{"synth", "folder"}); n != "" {
		t.Errorf("nearest(banana) = %q, want none", n)
	}
}

// Without the CUDA libraries, --device cuda says what is missing in one
// short sentence, and auto falls back with the same sentence.
func TestDeviceMessageShort(t *testing.T) {
	t.Setenv(cuda.EnvLibs, t.TempDir()) // an empty folder, and nothing else searched
	t.Setenv(cuda.EnvLibsOnly, "1")
	out := filepath.Join(t.TempDir(), "run")
	_, err := run(t, "train", "synth", "--device", "cuda", "--out", out)
	var miss *cuda.MissingError
	if err == nil || !errors.As(err, &miss) {
		t.Fatalf("--device cuda without libraries: %v", err)
	}
	msg := err.Error()
	if len(msg) > 160 || !strings.Contains(msg, "pcx selftest --device cuda") || !strings.Contains(msg, "no CUDA driver found (libcuda.so.1)") {
		t.Errorf("--device cuda without libraries (%d characters): %s", len(msg), msg)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused run left %s behind", out)
	}
}

// Every flag of every command says what it does.
func TestEveryFlagHasUsage(t *testing.T) {
	var walk func(path string, cs []*cli.Command)
	walk = func(path string, cs []*cli.Command) {
		for _, c := range cs {
			p := path + " " + c.Name
			for _, f := range c.Flags {
				if u, ok := f.(cli.DocGenerationFlag); ok && strings.TrimSpace(u.GetUsage()) == "" {
					t.Errorf("%s --%s has no usage text", p, f.Names()[0])
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk("pcx", newApp().Commands)
}

// The configuration records the number of loader goroutines the run uses
// (the flag's default when neither the flag nor a file sets it).
func TestConfigRecordsWorkers(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{{nil, 2}, {[]string{"--workers", "5"}, 5}} {
		cfg, err := configFor(t, "synth", tc.args...)
		if err != nil || cfg.Train.Workers != tc.want {
			t.Errorf("%v: workers %d (%v), want %d", tc.args, cfg.Train.Workers, err, tc.want)
		}
	}
}

// A best metric that no column of a classification run can have is refused
// with the choices before the run directory exists.
func TestUnknownBestMetricCreatesNothing(t *testing.T) {
	cfg := tinyRun(t, 1)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), "train:\n", "train:\n  best: test_mae\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	_, err = run(t, "train", "folder", "--config", bad, "--out", out)
	if err == nil || !strings.Contains(err.Error(), `best metric "test_mae" is not one of`) || !strings.Contains(err.Error(), "test_acc") {
		t.Fatalf("err = %v, want the unknown best metric named with the choices", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused run left %s behind (%v)", out, err)
	}
}
