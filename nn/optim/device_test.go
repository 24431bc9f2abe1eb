package optim

import (
	"os"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// TestAdamWDeviceMomentsFreed: runs on the CUDA emulator, each with a fresh
// AdamW as a training run makes one, leave the allocator's in-use bytes
// where they were before the first, whether the run ends with ToHost or
// only reads State after the parameters went back (which must not touch a
// device the parameters left); and the moments read back match those of
// the same steps on the CPU.
func TestAdamWDeviceMomentsFreed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the emulator")
	}
	d := emudev.Open(t)
	eng := cuda.NewEngine(d)
	x := []float32{0.5, -1, 2, 0.25, 1.5, -0.75}
	seed := []float32{1, -2, 0.5, 0.3, -0.7, 1.1, 0.9, -0.4}
	run := func(dev nn.Device, end func(o *AdamW, ps nn.Params) map[string][]float32) map[string][]float32 {
		w := param("w.weight", []float32{0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.2, 0.1, -0.3, 0.7, 0.2, -0.1}, nil, 4, 3)
		b := param("w.bias", []float32{0.05, -0.05, 0.1, 0}, nil, 4)
		ps := nn.Params{w, b}
		o := NewAdamW(ps, 0.05)
		if dev != nil {
			ps.ToDevice(dev)
		}
		for step := 0; step < 3; step++ {
			tp := nn.NewTape(true)
			in := nn.FromData(x, 2, 3)
			if dev != nil {
				in = nn.Upload(tp, dev, x, 2, 3)
			}
			y := nn.GELU(tp, nn.Linear(tp, in, w, b), false)
			ps.ZeroGrad()
			tp.Backward(nn.DotConst(tp, y, seed))
			o.Step(0.01)
			tp.Release()
		}
		return end(o, ps)
	}
	want := run(nil, func(o *AdamW, ps nn.Params) map[string][]float32 { return o.State() })
	base := d.Allocator().Stats().InUse
	for i, end := range []func(o *AdamW, ps nn.Params) map[string][]float32{
		func(o *AdamW, ps nn.Params) map[string][]float32 { ps.ToHost(); o.ToHost(); return o.State() },
		func(o *AdamW, ps nn.Params) map[string][]float32 { ps.ToHost(); return o.State() },
		func(o *AdamW, ps nn.Params) map[string][]float32 { s := o.State(); ps.ToHost(); o.ToHost(); return s },
	} {
		for rep := 0; rep < 2; rep++ {
			got := run(eng, end)
			if use := d.Allocator().Stats().InUse; use != base {
				t.Errorf("ending %d, run %d: %d bytes in use after the run, %d before", i, rep+1, use, base)
			}
			if len(got) != len(want) {
				t.Fatalf("ending %d: state %d buffers, want %d", i, len(got), len(want))
			}
			for k, v := range want {
				if d := relDiff(got[k], v); d > 1e-5 {
					t.Errorf("ending %d: %s differs from the CPU's by %.3g", i, k, d)
				}
			}
		}
	}
}

func relDiff(a, b []float32) float64 {
	var d, m float64
	for i := range b {
		d = max(d, abs64(float64(a[i])-float64(b[i])))
		m = max(m, abs64(float64(b[i])))
	}
	return d / max(m, 1e-30)
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
