package dist

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// collectives runs the same sequence of collectives on a rank and returns
// what it saw; every rank must get the same answers.
func collectives(t testing.TB, c Comm) []float32 {
	r := float32(c.Rank())
	x := []float32{1 + r, 0.1 * (r + 1), -r, 1e-8 * (r + 1)}
	if err := c.SumFloat32(x, false); err != nil {
		t.Fatal(err)
	}
	y := []float32{0.1 + r, 1e8, 1 / (r + 3), -1e8}
	if err := c.SumFloat32(y, true); err != nil {
		t.Fatal(err)
	}
	z := []float64{float64(r) + 0.5, 2}
	if err := c.SumFloat64(z); err != nil {
		t.Fatal(err)
	}
	b := []byte("rank?")
	if c.Rank() == c.Size()-1 {
		b = []byte("last!")
	}
	if err := c.Broadcast(b, c.Size()-1); err != nil {
		t.Fatal(err)
	}
	var msg []byte
	if c.Rank() == 0 {
		msg = []byte(strings.Repeat("state ", 1000))
	}
	msg, err := BroadcastBytes(c, msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := append(x, y...)
	out = append(out, float32(z[0]), float32(z[1]), float32(len(msg)), float32(b[0]), float32(b[4]))
	return out
}

// want is collectives' answer for n ranks, computed directly.
func want(n int) []float32 {
	var x [4]float32
	var y [4]float32
	var z0, z1 float64
	for r := range n {
		rf := float32(r)
		xs := [4]float32{1 + rf, 0.1 * (rf + 1), -rf, 1e-8 * (rf + 1)}
		ys := [4]float32{0.1 + rf, 1e8, 1 / (rf + 3), -1e8}
		for i := range 4 {
			if r == 0 {
				x[i], y[i] = xs[i], ys[i]
			} else {
				x[i] += xs[i]
				y[i] = y[i] + ys[i] // the left fold in rank order
			}
		}
		z0 += float64(r) + 0.5
		z1 += 2
	}
	out := append(x[:], y[:]...)
	return append(out, float32(z0), float32(z1), 6000, 'l', '!')
}

func TestLoopback(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		cs := Loopback(n)
		got := make([][]float32, n)
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Add(1)
			go func() { defer wg.Done(); got[i] = collectives(t, c) }()
		}
		wg.Wait()
		w := want(n)
		for i := range got {
			for k := range w {
				if got[i][k] != w[k] {
					t.Fatalf("%d ranks: rank %d value %d = %v, want %v", n, i, k, got[i][k], w[k])
				}
			}
		}
	}
}

func TestLoopbackAbort(t *testing.T) {
	cs := Loopback(2)
	done := make(chan error)
	go func() { done <- cs[1].SumFloat32([]float32{1}, false) }()
	cs[0].Abort(1)
	if err := <-done; err == nil {
		t.Fatal("a collective of an aborted group returned no error")
	}
}

func TestOpenNone(t *testing.T) {
	for _, k := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", "WORLD_SIZE"} {
		t.Setenv(k, "")
	}
	if c, err := Open("auto"); c != nil || err != nil {
		t.Fatalf("auto alone: %v, %v", c, err)
	}
	if _, err := Open("nccl2"); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Fatalf("unknown backend: %v", err)
	}
	t.Setenv("WORLD_SIZE", "4")
	if _, err := Open("none"); err == nil || !strings.Contains(err.Error(), "4 ranks") {
		t.Fatalf("none under a launcher: %v", err)
	}
	if _, err := Open("auto"); err == nil || !strings.Contains(err.Error(), "torchrun") {
		t.Fatalf("auto under torchrun: %v", err)
	}
}

func TestMPIMissing(t *testing.T) {
	_, err := openMPI([]string{"/nonexistent/libmpi.so.40"})
	if err == nil || !strings.Contains(err.Error(), EnvMPI) || !strings.Contains(err.Error(), "/nonexistent/libmpi.so.40") {
		t.Fatalf("error: %v", err)
	}
}

// TestMPI runs collectives under mpirun with 1 to 3 ranks (skipped where
// Open MPI's launcher is not installed).
func TestMPI(t *testing.T) {
	if os.Getenv("PCX_DIST_CHILD") == "1" {
		c, err := OpenMPI()
		if err != nil {
			t.Fatal(err)
		}
		got := collectives(t, c)
		w := want(c.Size())
		for k := range w {
			if got[k] != w[k] {
				t.Fatalf("rank %d of %d: value %d = %v, want %v", c.Rank(), c.Size(), k, got[k], w[k])
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not installed (Debian: openmpi-bin)")
	}
	for _, n := range []string{"1", "3"} {
		cmd := exec.Command(mpirun, "-np", n, "--oversubscribe", os.Args[0], "-test.run", "^TestMPI$", "-test.v")
		cmd.Env = append(os.Environ(), "PCX_DIST_CHILD=1", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Count(string(out), "--- PASS: TestMPI") != map[string]int{"1": 1, "3": 3}[n] {
			t.Fatalf("mpirun -np %s: %v\n%s", n, err, out)
		}
	}
}
