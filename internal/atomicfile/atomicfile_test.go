package atomicfile

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this package as a child process that is
// interrupted in the middle of a write.
func TestMain(m *testing.M) {
	if path := os.Getenv("ATOMICFILE_TEST_WRITE"); path != "" {
		if os.Getenv("ATOMICFILE_TEST_HANDLER") == "1" {
			defer RemoveOnSignal()()
		}
		Write(path, func(w io.Writer) error {
			w.Write(make([]byte, 1<<20)) // past the buffer: the temporary has data
			os.Stdout.WriteString("writing\n")
			// Until the signal. A sleep, not an empty select: with no
			// goroutine left to run, the runtime would end the process
			// as deadlocked (exit status 2) before the signal came.
			time.Sleep(time.Minute)
			return nil
		})
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// names lists dir's files.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	for _, text := range []string{"one", "two"} {
		if err := Write(p, func(w io.Writer) error { _, err := io.WriteString(w, text); return err }); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != text {
			t.Fatalf("%q, want %q", b, text)
		}
	}
	// A failing write leaves the old file and no temporary.
	err := Write(p, func(w io.Writer) error { io.WriteString(w, "three"); return errors.New("broken") })
	if err == nil || err.Error() != "broken" {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("after a failed write %q", b)
	}
	if got := names(t, dir); len(got) != 1 {
		t.Fatalf("files %v", got)
	}
}

// A write that panics removes its temporary on the way up.
func TestWritePanicRemovesTemporary(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		Write(p, func(w io.Writer) error {
			w.Write(make([]byte, 1<<20))
			panic("boom")
		})
	}()
	if got := names(t, dir); len(got) != 0 {
		t.Fatalf("a panicking write left %v", got)
	}
}

// Cancelling the context stops the write, removes its temporary and
// leaves the old file.
func TestWriteContextCancel(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := WriteContext(ctx, p, func(w io.Writer) error {
		for i := 0; i < 64; i++ {
			if i == 3 {
				cancel()
			}
			if _, err := w.Write(make([]byte, 64<<10)); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("the old file became %d bytes", len(b))
	}
	if got := names(t, dir); len(got) != 1 {
		t.Fatalf("files %v", got)
	}
	// Already cancelled: nothing is made.
	if err := WriteContext(ctx, filepath.Join(dir, "g"), func(io.Writer) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if got := names(t, dir); len(got) != 1 {
		t.Fatalf("files %v", got)
	}
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".last.safetensors.tmp123": true,
		".metrics.jsonl.tmp9":      true,
		".a.tmp0":                  true,
		"last.safetensors.tmp123":  false, // not hidden
		".last.safetensors.tmp":    false, // no digits
		".last.safetensors.tmp12x": false,
		"..tmp12":                  false, // no target name
		".tmp12":                   false,
		".x.tmp":                   false,
		"notes.tmp1":               false,
	} {
		if IsTemp(name) != want {
			t.Errorf("IsTemp(%q) = %v", name, !want)
		}
	}
	// What Write makes is a temporary by this rule.
	dir := t.TempDir()
	p := filepath.Join(dir, "x.yaml")
	Write(p, func(io.Writer) error {
		got := names(t, dir)
		if len(got) != 1 || !IsTemp(got[0]) || !strings.HasPrefix(got[0], ".x.yaml") {
			t.Errorf("temporary %v", got)
		}
		return nil
	})
}

// RemoveStale removes temporaries left behind, and nothing else: not
// other files, not directories, not a write in flight.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".last.safetensors.tmp1234", ".config.yaml.tmp9", "last.safetensors", ".hidden", "notes.tmp1"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".d.tmp1"), 0o755); err != nil {
		t.Fatal(err)
	}
	var during []string
	err := Write(filepath.Join(dir, "m.csv"), func(w io.Writer) error {
		removed, err := RemoveStale(dir)
		sort.Strings(removed)
		during = removed
		return err
	})
	if err != nil {
		t.Fatal(err) // the write in flight survived
	}
	if want := []string{".config.yaml.tmp9", ".last.safetensors.tmp1234"}; strings.Join(during, " ") != strings.Join(want, " ") {
		t.Errorf("removed %v, want %v", during, want)
	}
	want := []string{".d.tmp1", ".hidden", "last.safetensors", "m.csv", "notes.tmp1"}
	if got := names(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("left %v, want %v", got, want)
	}
}

// An interrupt in the middle of a write leaves a temporary behind, unless
// RemoveOnSignal is in effect; with it the process still ends by the
// signal.
func TestRemoveOnSignal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send")
	}
	if signal.Ignored(os.Interrupt) {
		t.Skip("this process was started with SIGINT ignored, and its children inherit that")
	}
	for _, handler := range []bool{false, true} {
		dir := t.TempDir()
		target := filepath.Join(dir, "out.ply")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ATOMICFILE_TEST_WRITE="+target)
		if handler {
			cmd.Env = append(cmd.Env, "ATOMICFILE_TEST_HANDLER=1")
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "writing\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %q, %v", line, err)
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("handler %v: child ended with %v", handler, err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("handler %v: child ended with %v, want killed by SIGINT", handler, err)
		}
		left := names(t, dir)
		if handler && len(left) != 0 {
			t.Errorf("with RemoveOnSignal the interrupt left %v", left)
		}
		if !handler && (len(left) != 1 || !IsTemp(left[0])) {
			t.Errorf("without RemoveOnSignal the interrupt left %v, want one temporary (the test cannot see a leak)", left)
		}
	}
}
