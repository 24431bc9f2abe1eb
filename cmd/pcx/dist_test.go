package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/train"
)

// mpirunOrSkip returns Open MPI's launcher, or skips the test.
func mpirunOrSkip(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("trains under mpirun")
	}
	p, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not installed (Debian: openmpi-bin)")
	}
	return p
}

// mpiCommand is pcx (this test binary as main) on n ranks under mpirun.
func mpiCommand(mpirun string, n int, args ...string) *exec.Cmd {
	cmd := exec.Command(mpirun, append([]string{"-np", strconv.Itoa(n), "--oversubscribe", os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), "PCX_TEST_RUN_MAIN=1", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	return cmd
}

// weightsOf reads every tensor of a run's last checkpoint.
func weightsOf(t *testing.T, dir string) map[string][]float32 {
	t.Helper()
	d, err := state.ReadSafetensors(filepath.Join(dir, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for k, v := range d.Tensors {
		out[k] = v.F32
	}
	return out
}

// TestMPITrain: 2 ranks under mpirun give the metrics and weights of one
// process with 2 shards, bit for bit, with and without --deterministic; a
// rank killed mid-run ends the run, which one process resumes to the same
// end.
func TestMPITrain(t *testing.T) {
	mpirun := mpirunOrSkip(t)
	cfg := tinyRun(t, 3)
	ref := filepath.Join(t.TempDir(), "ref")
	if _, err := run(t, "train", "folder", "--config", cfg, "--out", ref, "--shards", "2", "--plots=false"); err != nil {
		t.Fatal(err)
	}
	want, wantW := metricsOf(t, ref), weightsOf(t, ref)
	for _, extra := range [][]string{nil, {"--deterministic"}} {
		out := filepath.Join(t.TempDir(), "mpi")
		cmd := mpiCommand(mpirun, 2, append([]string{"train", "folder", "--config", cfg, "--out", out, "--plots=false"}, extra...)...)
		log, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(log), "mpi (Open MPI") {
			t.Fatalf("mpirun %v: %v\n%s", extra, err, log)
		}
		if got := metricsOf(t, out); !reflect.DeepEqual(got, want) {
			t.Errorf("%v: 2 ranks' metrics\n%+v\nwant one process with 2 shards'\n%+v", extra, got, want)
		}
		if got := weightsOf(t, out); !reflect.DeepEqual(got, wantW) {
			t.Errorf("%v: 2 ranks' weights differ from one process with 2 shards'", extra)
		}
	}

	// Rank 0 holds after epoch 1's line; rank 1 is killed.
	out := filepath.Join(t.TempDir(), "killed")
	cmd := mpiCommand(mpirun, 2, "train", "folder", "--config", cfg, "--out", out, "--plots=false")
	cmd.Env = append(cmd.Env, "PCX_TEST_HOLD_AT=epoch   1/3")
	stdout, printed, stderr, held := startHolding(t, cmd)
	ranks := childPIDs(cmd.Process.Pid)
	if !held || len(ranks) != 2 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the run did not hold after epoch 1 (ranks %v)\n%s%s", ranks, printed, stderr.String())
	}
	// Rank 1 is the rank not holding: the one whose stdout is not ours.
	// Either rank's death must end the run; kill the later-started one.
	syscall.Kill(ranks[1], syscall.SIGKILL)
	done := make(chan error)
	go func() {
		io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), "exited on signal 9") {
			t.Fatalf("after a rank was killed: %v\n%s", err, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the run went on after a rank was killed")
	}
	// One process resumes the 2-shard run from its last checkpoint.
	if _, err := run(t, "train", "folder", "--out", out, "--resume", "--plots=false"); err != nil {
		t.Fatal(err)
	}
	if got := metricsOf(t, out); !reflect.DeepEqual(got, want) {
		t.Errorf("resumed by one process:\n%+v\nwant\n%+v", got, want)
	}
}

// childPIDs lists the processes whose parent is pid, in order of pid.
func childPIDs(pid int) []int {
	var out []int
	for range 50 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err == nil {
			out = out[:0]
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					out = append(out, n)
				}
			}
			if len(out) >= 2 {
				return out
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out
}
