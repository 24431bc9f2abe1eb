package vision

import (
	"math"
	"os"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
)

// TestMain removes the emulator that the device tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// TestDeviceStep: every image method's training step (forward with
// drop-path off, cross-entropy plus balance loss, backward) on the CUDA
// emulator gives the CPU's loss, logits (within 1e-5 of their largest)
// and tunable gradients (within 1e-4 of their largest): measured 5e-7 and
// 6e-6 at most.
func TestDeviceStep(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	eng := emudev.Engine(t)
	r := rng.New(5)
	const b, size = 3, 8
	pix := make([]float32, b*3*size*size)
	for i := range pix {
		pix[i] = float32(r.NormFloat64())
	}
	in := &backbone.Images{B: b, H: size, W: size, Pix: pix}
	labels := []int{0, 1, 1}
	for _, method := range []string{"full", "linear", "adapter", "adaptformer", "adapter-x", "adaptformer-x"} {
		cfg := tinyConfig(t, "x", method)
		cfg.Model.DropPath = 0
		cfg.Model.Dropout = 0
		step := func(dev nn.Device) (loss float32, logits []float32, grads [][]float32) {
			m, err := NewModel(cfg.Model, rng.New(1))
			if err != nil {
				t.Fatal(err)
			}
			if dev != nil {
				m.Params().ToDevice(dev)
				defer m.Params().ToHost()
			}
			tp := nn.NewTape(true)
			task := &Task{Model: m}
			o := task.Step(tp, &Batch{Images: in, labels: labels}, nil)
			l := o.Objective(tp)
			tp.Backward(l)
			loss = l.Host()[0]
			logits = append([]float32(nil), o.Out.Host()...)
			for _, p := range m.Params().Trainable() {
				grads = append(grads, append([]float32(nil), p.HostGrad()...))
			}
			tp.Release()
			return loss, logits, grads
		}
		cl, clog, cg := step(nil)
		dl, dlog, dg := step(eng)
		if rel := math.Abs(float64(cl-dl)) / math.Max(math.Abs(float64(cl)), 1e-6); rel > 1e-4 {
			t.Errorf("%s: loss %g on the device, %g on the CPU", method, dl, cl)
		}
		if e := maxRel(clog, dlog); e > 1e-5 {
			t.Errorf("%s: logits differ by %g (relative to the largest)", method, e)
		}
		worst := 0.0
		for i := range cg {
			e := maxRel(cg[i], dg[i])
			worst = math.Max(worst, e)
			if e > 1e-4 {
				t.Errorf("%s: gradient %d differs by %g (relative to its largest)", method, i, e)
			}
		}
		t.Logf("%s: loss %g / %g, logits differ by %.2g, gradients by at most %.2g", method, cl, dl, maxRel(clog, dlog), worst)
	}
}

// maxRel is the largest |a−b| relative to the largest |a|.
func maxRel(a, b []float32) float64 {
	var mx, d float64
	for i := range a {
		mx = math.Max(mx, math.Abs(float64(a[i])))
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d / math.Max(mx, 1e-12)
}
