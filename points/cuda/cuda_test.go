package cuda

import (
	"os"
	"strings"
	"testing"

	ncuda "github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/check"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// emuDevice opens the CPU emulator of the driver and cuBLAS (which runs
// kernels/points.cu too); it skips without a C++ compiler.
func emuDevice(t *testing.T) *ncuda.Device {
	t.Helper()
	return emudev.Open(t)
}

// emuEngine is the emulator's engine as a points.Grouper.
func emuEngine(t *testing.T) *Engine { return Grouper(ncuda.NewEngine(emuDevice(t))) }

// TestRegistered: importing the package registers its kernels with
// nn/cuda and its cases with the selftest, after the engine's.
func TestRegistered(t *testing.T) {
	ks := strings.Join(ncuda.Kernels(), " ")
	for _, k := range Kernels {
		if !strings.Contains(ks, k.Name) {
			t.Errorf("%s is not registered", k.Name)
		}
	}
	names := check.Names()
	if n := len(names); n < 2 || names[n-2] != "fps" || names[n-1] != "knn_group" {
		t.Errorf("selftest cases %v do not end with fps, knn_group", names)
	}
}

// TestCheckEmulator runs the selftest's point cases on the emulator: the
// GPU's FPS and kNN indices equal packages fps's and knn's exactly.
func TestCheckEmulator(t *testing.T) {
	d := emuDevice(t)
	res, err := check.Run(d, check.Options{Seed: 1, Small: true, Only: []string{"fps", "knn_group"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results for 2 cases", len(res))
	}
	for _, r := range res {
		t.Logf("%-10s %.2e (%s) %v", r.Op, r.MaxRel, r.Worst, r.GPUTime)
		if !r.OK {
			t.Errorf("%s: max relative difference %g (%s) > %g; %s; all %v", r.Op, r.MaxRel, r.Worst, r.Tol, r.Err, r.Outputs)
		}
	}
}

// TestArgumentChecking calls every operation with good arguments and with
// bad ones (an error naming the problem, no panic).
func TestArgumentChecking(t *testing.T) {
	s := emuDevice(t).Stream()
	buf := func(n int) *Buffer {
		b, err := s.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		run  func() error
		err  string
	}{
		{"FPS", func() error { return FPS(s, buf(2*4), buf(2*10*3), 2, 10, 4) }, ""},
		{"FPS too many", func() error { return FPS(s, buf(2*11), buf(2*10*3), 2, 10, 11) }, "cannot choose 11 centres from 10 points"},
		{"FPS xyz", func() error { return FPS(s, buf(2*4), buf(2*10*3-1), 2, 10, 4) }, "xyz has 59 elements, want 60"},
		{"KNN", func() error { return KNN(s, buf(2*4*3), buf(2*10*3), buf(2*4*3), 2, 10, 4, 3) }, ""},
		{"KNN k", func() error { return KNN(s, buf(2*4*11), buf(2*10*3), buf(2*4*3), 2, 10, 4, 11) }, "cannot find 11 neighbours among 10 points"},
		{"Gather3", func() error { return Gather3(s, buf(2*4*3), buf(2*10*3), buf(8), 2, 10, 4) }, ""},
		{"GroupRel", func() error { return GroupRel(s, buf(2*4*3*3), buf(60), buf(24), buf(24), 2, 10, 4, 3) }, ""},
		{"GroupRel idx", func() error { return GroupRel(s, buf(2*4*3*3), buf(60), buf(24), buf(23), 2, 10, 4, 3) }, "idx has 23 elements, want 24"},
		{"Group", func() error {
			g, err := Group(s, buf(60), 2, 10, 4, 3)
			if err == nil {
				err = g.Free()
			}
			return err
		}, ""},
		{"Group too many", func() error { _, err := Group(s, buf(60), 2, 10, 11, 3); return err }, "into 11 groups"},
	} {
		err := c.run()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		}
	}
	if err := s.Synchronize(); err != nil {
		t.Fatal(err)
	}
}
