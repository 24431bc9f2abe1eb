package train

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcx-dev/pcx/nn/cuda/emu"
)

// TestMain lets a test run this package as another process that owns a
// run directory until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PCX_TRAIN_TEST_LOCK"); dir != "" {
		if _, err := Lock(dir); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println("locked")
		// Until killed. A sleep, not an empty select: with no goroutine
		// left to run, the runtime may end the process as deadlocked.
		time.Sleep(time.Minute)
		os.Exit(3)
	}
	code := m.Run()
	emu.Cleanup() // the device tests' emulator build
	os.Exit(code)
}

// A run directory owned by another process is refused, with its process
// id; once that process is killed (SIGKILL) the directory is free again.
func TestLockOtherProcess(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PCX_TRAIN_TEST_LOCK="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	pid := fmt.Sprintf("process %d", cmd.Process.Pid)
	if _, err := Lock(dir); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), pid) {
		t.Errorf("Lock of a directory another process owns: %v, want ErrBusy naming %s", err, pid)
	}
	for _, resume := range []bool{false, true} {
		_, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: resume})
		if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "by another pcx run (process ") {
			t.Errorf("run (resume %v) in a directory another process owns: %v", resume, err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("child ended with %v, want killed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatalf("the lock file: %v", err) // left behind by the kill, as it may be
	}
	// The run is complete: a resume that took the directory says so.
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true}); !errors.Is(err, ErrComplete) {
		t.Errorf("resume after the owner was killed: %v, want ErrComplete", err)
	}
}

// Within one process: a directory is locked once, a Run inside the
// caller's lock goes ahead, and a second Run while one is going on is
// refused.
func TestLockInProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); !errors.Is(err, ErrBusy) {
		t.Errorf("second Lock: %v", err)
	}
	var inner error
	c := testConfig()
	c.Epochs = 1
	_, err = Run(context.Background(), newBlobs(1), c, Options{Dir: dir, AfterStep: func(e, b int) {
		if b == 0 {
			_, inner = Run(context.Background(), newBlobs(1), c, Options{Dir: dir, Overwrite: true})
		}
	}})
	if err != nil {
		t.Fatalf("run in the caller's locked directory: %v", err)
	}
	if !errors.Is(inner, ErrBusy) {
		t.Errorf("a second run during the first: %v, want ErrBusy", inner)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	l2.Unlock()
}

// A new run in a directory holding a run is refused and leaves it as it
// was; with Overwrite it replaces it whole, leaving nothing of the old run
// even when the new one fails at once.
func TestFreshRunOverExisting(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, n := range runFiles {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		before[n] = b
	}
	c := testConfig()
	c.Seed = 8
	_, err := Run(context.Background(), newBlobs(1), c, Options{Dir: dir})
	if !errors.Is(err, ErrRunExists) || !strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("new run over a run: %v, want ErrRunExists naming --resume and --overwrite", err)
	}
	for n, b := range before {
		if now, _ := os.ReadFile(filepath.Join(dir, n)); string(now) != string(b) {
			t.Errorf("the refused run changed %s", n)
		}
	}
	// Overwrite with a run that fails in its first step: the old run's
	// best checkpoint and metrics must not stay beside the new run's.
	task := newBlobs(1)
	task.nanAt = 1
	if _, err := Run(context.Background(), task, c, Options{Dir: dir, Overwrite: true}); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("overwriting run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, BestFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old run's %s survived the overwrite: %v", BestFile, err)
	}
	if ms, err := ReadMetrics(filepath.Join(dir, MetricsJSONL)); err != nil || len(ms) != 0 {
		t.Errorf("metrics after the overwrite: %d epochs, %v", len(ms), err)
	}
	// Overwrite with a whole run: the directory is that run's.
	ref := t.TempDir()
	want, err := Run(context.Background(), newBlobs(1), c, Options{Dir: ref})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), newBlobs(1), c, Options{Dir: dir, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	got, _ := ReadMetrics(filepath.Join(dir, MetricsJSONL))
	if a, b := strip(want.Epochs), strip(got); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("overwritten run's metrics:\n%+v\nwant\n%+v", b, a)
	}
}

// Temporaries left by killed writes are removed when a run starts or
// resumes; other files stay.
func TestStaleTemporariesRemoved(t *testing.T) {
	dir := t.TempDir()
	c := testConfig()
	c.Epochs = 2
	ctx, cancel := context.WithCancel(context.Background())
	Run(ctx, newBlobs(1), c, Options{Dir: dir, AfterStep: func(e, b int) {
		if e == 1 {
			cancel()
		}
	}})
	cancel()
	stale := []string{".last.safetensors.tmp1234567", ".best.safetensors.tmp42", ".metrics.jsonl.tmp7", ".config.yaml.tmp99"}
	keep := []string{"notes.txt", ".last.safetensors.tmp", "x.tmp3"}
	for _, n := range append(append([]string(nil), stale...), keep...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log strings.Builder
	if _, err := Run(context.Background(), newBlobs(1), c, Options{Dir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	es, _ := os.ReadDir(dir)
	var left []string
	for _, e := range es {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s survived the resume (directory: %v)", n, left)
		}
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if !strings.Contains(log.String(), "removed 4 temporary file(s)") {
		t.Errorf("log %q does not report the removal", log.String())
	}
	// A new run in a fresh directory with a stale temporary, too.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, stale[0]), []byte("x"), 0o644)
	if _, err := Run(context.Background(), newBlobs(1), c, Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, stale[0])); err == nil {
		t.Error("a new run left a stale temporary")
	}
}
