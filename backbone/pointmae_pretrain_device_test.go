package backbone

import (
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestMain removes the emulator that the device test built.
func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// TestPointMAEPretrainDevice runs the golden pre-training case with the
// model on a device (the CPU emulator of the CUDA driver and cuBLAS, which
// runs the kernels' CUDA C sources) and checks the loss and every gradient
// against the CPU's. The groups stay on the host: Forward reorders them
// there and the engine moves each input to the device.
func TestPointMAEPretrainDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	eng := openEmulator(t)
	c := loadPretrainGolden(t).Cases.Tiny
	norm := map[string]bool{}
	for _, k := range c.NormWeightKeys {
		norm[k] = true
	}
	cfg := c.Config
	g := GroupAt(goldentest.F32(c.Inputs.Points.Data), cfg.B, cfg.N, goldentest.I32(c.Inputs.CenterIdx.Data),
		goldentest.I32(c.Inputs.KnnIdx.Data), cfg.NumGroup, cfg.GroupSize)
	mask := make([]bool, len(c.Inputs.Mask.Data))
	for i, v := range c.Inputs.Mask.Data {
		mask[i] = v != 0
	}
	compareDevice(t, eng, func(dev nn.Device) (float32, map[string][]float32) {
		m, err := NewPointMAEPretrain(cfg.config(), pointcloud.NewRand(0))
		if err != nil {
			t.Fatal(err)
		}
		goldentest.SplitmixInit(m.Params(), norm)
		return runOnDevice(t, dev, m.Params(), func(tp *nn.Tape) *nn.Tensor {
			out, err := m.Forward(tp, g, mask, pointcloud.NewRand(1))
			if err != nil {
				t.Fatal(err)
			}
			return out.Loss
		})
	})
}

// openEmulator opens the CPU emulator of the CUDA driver and cuBLAS (which
// runs the kernels' CUDA C sources) as a device engine, closed when the
// test ends.
func openEmulator(t *testing.T) nn.Device {
	t.Helper()
	return emudev.Engine(t)
}

// runOnDevice moves ps to dev (the host when nil), runs forward on a
// training tape, back-propagates the loss it returns, and returns the loss
// and every trainable parameter's gradient, the parameters back on the
// host.
func runOnDevice(t *testing.T, dev nn.Device, ps nn.Params, forward func(tp *nn.Tape) *nn.Tensor) (float32, map[string][]float32) {
	t.Helper()
	if dev != nil {
		ps.ToDevice(dev)
		defer ps.ToHost()
	}
	tp := nn.NewTape(true)
	loss := forward(tp)
	tp.Backward(loss)
	l := loss.Host()[0]
	grads := map[string][]float32{}
	for _, p := range ps {
		if p.Trainable {
			grads[p.Name] = append([]float32(nil), p.HostGrad()...)
		}
	}
	tp.Release()
	return l, grads
}

// compareDevice runs a model's step on the CPU and on dev and checks that
// the loss and every gradient agree.
func compareDevice(t *testing.T, dev nn.Device, run func(dev nn.Device) (float32, map[string][]float32)) {
	t.Helper()
	cl, cg := run(nil)
	dl, dg := run(dev)
	if d := math.Abs(float64(dl-cl)) / math.Abs(float64(cl)); d > 1e-5 {
		t.Errorf("loss %v on the device, %v on the CPU", dl, cl)
	}
	var gmax float64
	for _, v := range cg {
		for _, x := range v {
			gmax = math.Max(gmax, math.Abs(float64(x)))
		}
	}
	worst := 0.0
	for k, want := range cg {
		got := dg[k]
		if len(got) != len(want) {
			t.Fatalf("%s: %d gradient values on the device, %d on the CPU", k, len(got), len(want))
		}
		var scale, e float64
		for i := range want {
			scale = math.Max(scale, math.Abs(float64(want[i])))
			e = math.Max(e, math.Abs(float64(got[i]-want[i])))
		}
		// A gradient that is zero in exact arithmetic (a bias before a
		// training BatchNorm) holds rounding noise on both sides: judge it
		// against the largest gradient.
		if scale < 1e-4*gmax {
			scale = gmax
		}
		if e/scale > 1e-4 || e != e {
			t.Errorf("grad %s: device differs from the CPU by %.3g of its scale", k, e/scale)
		}
		worst = math.Max(worst, e/scale)
	}
	t.Logf("device loss %v, CPU %v; worst gradient difference %.2g", dl, cl, worst)
}
