package check

import (
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/internal/emu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// TestEmulator runs every case on the CPU emulator of the driver and cuBLAS
// (nn/cuda/testdata/emu): the kernels' CUDA C sources, the Go wrappers, the
// purego bindings and the embedded PTX's entry points, all but the GPU.
func TestEmulator(t *testing.T) {
	if emu.Compiler() == "" {
		t.Skip(emu.ErrNoCompiler)
	}
	dir, err := emu.Shared()
	if err != nil {
		t.Fatal(err)
	}
	d, err := cuda.Open(cuda.Options{Libs: cuda.LibOptions{Dirs: []string{dir}, Only: true}, IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := Run(d, Options{Seed: 1, Small: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(Names()) {
		t.Fatalf("%d results for %d cases", len(res), len(Names()))
	}
	for _, r := range res {
		t.Logf("%-16s %.2e (%s) %v", r.Op, r.MaxRel, r.Worst, r.GPUTime)
		if !r.OK {
			t.Errorf("%s: max relative difference %g (%s) > %g; %s; all %v", r.Op, r.MaxRel, r.Worst, r.Tol, r.Err, r.Outputs)
		}
	}
}

func TestRelDiff(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 2}, []float32{1, 2}, 0},
		{[]float32{0, 0}, []float32{0, 0}, 0},
		{[]float32{1.1, 2}, []float32{1, 2}, 0.05},
		{[]float32{1, 4}, []float32{1, 2}, 1},
		{[]float32{nan, 2}, []float32{nan, 2}, 0},
		{[]float32{1}, []float32{0}, math.Inf(1)},
	} {
		if got := RelDiff(tc.a, tc.b); math.Abs(got-tc.want) > 1e-6 && !(math.IsInf(got, 1) && math.IsInf(tc.want, 1)) {
			t.Errorf("RelDiff(%v, %v) = %g, want %g", tc.a, tc.b, got, tc.want)
		}
	}
	if got := RelDiff([]float32{nan, 2}, []float32{1, 2}); !math.IsNaN(got) {
		t.Errorf("a NaN where the CPU has none gives %g, want NaN", got)
	}
}
