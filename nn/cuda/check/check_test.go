package check

import (
	"errors"
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
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
	res, err := Run(emudev.Open(t), Options{Seed: 1, Small: true})
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

// TestJudging: a case fails on a float output beyond the tolerance, on any
// differing index, on NaN, on an error and when it compared nothing.
func TestJudging(t *testing.T) {
	mk := func(outs map[string]float64, index map[string]bool, err error) Result {
		e := &env{outs: outs, index: index, err: err}
		return e.result(namedCase{name: "x"})
	}
	for _, tc := range []struct {
		r    Result
		ok   bool
		tol  float64
		wrst string
	}{
		{mk(map[string]float64{"out": 1e-6, "dx": 2e-5}, map[string]bool{}, nil), true, DefaultTol, "dx"},
		{mk(map[string]float64{"out": 1e-6, "dx": 2e-4}, map[string]bool{}, nil), false, DefaultTol, "dx"},
		{mk(map[string]float64{"out": math.NaN(), "dx": 0}, map[string]bool{}, nil), false, DefaultTol, "out"},
		{mk(map[string]float64{"idx": 1e-6}, map[string]bool{"idx": true}, nil), false, 0, "idx"},
		{mk(map[string]float64{"idx": 0, "pts": 1e-5}, map[string]bool{"idx": true}, nil), true, DefaultTol, "pts"},
		{mk(map[string]float64{}, map[string]bool{}, nil), false, 0, ""},
		{mk(map[string]float64{"out": 0}, map[string]bool{}, errors.New("boom")), false, DefaultTol, ""},
	} {
		if tc.r.OK != tc.ok || tc.r.Tol != tc.tol || tc.r.Worst != tc.wrst {
			t.Errorf("%+v: want ok %v tol %g worst %q", tc.r, tc.ok, tc.tol, tc.wrst)
		}
	}
}
