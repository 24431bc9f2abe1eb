package check

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
	"github.com/pcx-dev/pcx/nn/optim"
	"github.com/pcx-dev/pcx/points/knn"
	"github.com/pcx-dev/pcx/train"
)

// emuEngine opens the CPU emulator as an nn.Device; it skips without a C++
// compiler.
func emuEngine(t *testing.T) *cuda.Engine {
	t.Helper()
	return emudev.Engine(t)
}

// stepModel is what the step tests train.
type stepModel interface {
	Params() nn.Params
	ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, aux *nn.Tensor)
}

// stepLoss is a step test's objective from the model's logits and
// auxiliary loss.
type stepLoss func(tp *nn.Tape, logits, aux *nn.Tensor, labels []int) *nn.Tensor

// daptxLoss is DAPT-X's objective: cross-entropy plus alpha times the
// balance loss, as training forms it.
func daptxLoss(alpha float32) stepLoss {
	return func(tp *nn.Tape, logits, balance *nn.Tensor, labels []int) *nn.Tensor {
		return train.Output{Loss: nn.CrossEntropy(tp, logits, labels, 0),
			Aux: []train.Aux{{Name: "balance", Value: balance, Weight: alpha}}}.Objective(tp)
	}
}

// smallBase is a Point-MAE small enough for the emulator: 24-wide tokens,
// 2 blocks of 2 heads, 8 groups of 8 points, 5 classes, drop-path on
// (its per-sample factors are drawn on the host, as on the CPU), dropout
// off (the GPU's Philox masks differ from the CPU's by design).
func smallBase() backbone.Config {
	return backbone.Config{TransDim: 24, Depth: 2, Heads: 2, Classes: 5, NumGroup: 8, GroupSize: 8, NPoints: 64,
		DropPath: 0.5, PosEveryBlock: true}
}

// stepCompare trains two copies of a model, one on the CPU and one on the
// engine, for two steps (forward, loss, backward, clipping, AdamW) on the
// same batch, and checks logits, loss, every trainable gradient, every
// parameter and buffer after the update against the CPU within tol.
func stepCompare(t *testing.T, eng *cuda.Engine, build func() (stepModel, stepLoss), tol float64) {
	t.Helper()
	cfg := smallBase()
	const b = 4
	r := rand.New(rand.NewPCG(5, 6))
	xyz := make([]float32, b*cfg.NPoints*3)
	for i := range xyz {
		xyz[i] = float32(r.NormFloat64())
	}
	kg, err := knn.Group(xyz, b, cfg.NPoints, cfg.NumGroup, cfg.GroupSize, knn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := &backbone.Groups{B: b, G: kg.G, M: kg.K, Centres: kg.Centres, Neighbourhoods: kg.Neighbourhoods}
	labels := []int{0, 3, 1, 4}

	type run struct {
		m      stepModel
		loss   stepLoss
		opt    *optim.AdamW
		pool   *nn.Pool
		logits []float32
		l      float32
		grads  map[string][]float32
		norm   float64
	}
	mk := func(dev nn.Device) *run {
		m, loss := build()
		if dev != nil {
			m.Params().ToDevice(dev)
		}
		return &run{m: m, loss: loss, opt: optim.NewAdamW(m.Params(), 0.05), pool: nn.NewPool()}
	}
	cpu, gpu := mk(nil), mk(eng)
	defer gpu.m.Params().ToHost()
	worst := map[string]float64{}
	check := func(step int, what string, got, want []float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("step %d %s: %d values on the device, %d on the CPU", step, what, len(got), len(want))
		}
		d := RelDiff(got, want)
		if d > tol || d != d {
			t.Errorf("step %d %s: relative difference %.3g > %g", step, what, d, tol)
		}
		key := fmt.Sprintf("step %d %s", step, what)
		worst[key] = d
	}
	const lr = 1e-3
	for step := 1; step <= 2; step++ {
		for _, rr := range []*run{cpu, gpu} {
			rr.m.Params().ZeroGrad()
			tp := nn.NewTapePool(true, rr.pool)
			logits, aux := rr.m.ForwardAux(tp, g, rand.New(rand.NewPCG(uint64(step), 9)))
			loss := rr.loss(tp, logits, aux, labels)
			tp.Backward(loss)
			rr.logits, rr.l = logits.Host(), loss.Host()[0]
			tp.Release()
			rr.grads = map[string][]float32{}
			for _, p := range rr.opt.Params {
				rr.grads[p.Name] = append([]float32(nil), p.HostGrad()...) // a copy: the CPU clips in place
			}
			rr.norm = optim.ClipGradNorm(rr.opt.Params, 0.5) // clips: the norms are larger
			rr.opt.Step(lr)
		}
		check(step, "logits", gpu.logits, cpu.logits)
		check(step, "loss", []float32{gpu.l}, []float32{cpu.l})
		if d := (gpu.norm - cpu.norm) / cpu.norm; d > tol || d < -tol {
			t.Errorf("step %d: gradient norm %g on the device, %g on the CPU", step, gpu.norm, cpu.norm)
		}
		// Gradients: within tol of the tensor's scale, or, for gradients
		// that are zero in exact arithmetic (a bias before a training
		// BatchNorm, a shift every sample shares before the head's
		// BatchNorm) and hold only the rounding noise of a cancelling sum
		// on both sides, within tol/10 of the step's largest gradient.
		var gmax float64
		for _, g := range cpu.grads {
			for _, v := range g {
				gmax = max(gmax, math.Abs(float64(v)))
			}
		}
		noise := 0
		for _, p := range cpu.opt.Params {
			cg, gg := cpu.grads[p.Name], gpu.grads[p.Name]
			if cg == nil {
				continue
			}
			var scale, err float64
			for i := range cg {
				scale = max(scale, math.Abs(float64(cg[i])))
				err = max(err, math.Abs(float64(gg[i]-cg[i])))
			}
			d := err / scale
			if !(d <= tol) {
				// Rounding noise of a cancelling sum: judged against the
				// step's largest gradient instead.
				noise++
				d = err / gmax
				if !(d <= tol/10) {
					t.Errorf("step %d grad %s: difference %.3g of its scale %.3g (%.3g of the largest gradient)", step, p.Name, err/scale, scale, d)
				}
				worst[fmt.Sprintf("step %d grad %s (of the largest gradient)", step, p.Name)] = d
				continue
			}
			worst[fmt.Sprintf("step %d grad %s", step, p.Name)] = d
		}
		// Parameters: the update of each element, in units of the learning
		// rate, where its gradient is above the noise floor (AdamW's first
		// steps move every element by about ±lr whatever its gradient's
		// size, so an element with a gradient of rounding noise moves in a
		// random direction on each side); buffers (BatchNorm's running
		// statistics) relative to their scale. Then the device gets the
		// CPU's values, so that each step is compared from equal states.
		gpu.m.Params().SyncHost()
		gp := gpu.m.Params()
		for i, p := range cpu.m.Params() {
			cg := cpu.grads[p.Name]
			if cg == nil {
				check(step, "param "+p.Name, gp[i].Data, p.Data)
				continue
			}
			var d float64
			for k := range p.Data {
				if math.Abs(float64(cg[k])) >= 1e-3*gmax {
					d = max(d, math.Abs(float64(gp[i].Data[k]-p.Data[k]))/lr)
				}
			}
			if d > 1e-2 {
				t.Errorf("step %d param %s: update differs by %.3g·lr", step, p.Name, d)
			}
			worst[fmt.Sprintf("step %d update %s (÷lr)", step, p.Name)] = d
			copy(gp[i].Data, p.Data)
		}
		gp.Upload()
		t.Logf("step %d: %d gradients judged as rounding noise against the largest, %.3g", step, noise, gmax)
	}
	// The largest differences per kind, for the record.
	kinds := map[string]string{}
	top := map[string]float64{}
	for k, v := range worst {
		kind := strings.Fields(k)[2]
		if strings.HasSuffix(k, "(of the largest gradient)") {
			kind = "noise-grad"
		}
		if v >= top[kind] {
			top[kind], kinds[kind] = v, k
		}
	}
	for _, kind := range []string{"logits", "loss", "grad", "noise-grad", "update", "param"} {
		if _, ok := kinds[kind]; ok {
			t.Logf("largest %s difference %.3g (%s)", kind, top[kind], kinds[kind])
		}
	}
	t.Logf("%d tensors compared; loss %g on the device, %g on the CPU", len(worst), gpu.l, cpu.l)
}

func TestStepDAPTX(t *testing.T) {
	eng := emuEngine(t)
	build := func() (stepModel, stepLoss) {
		cfg := adapters.DAPTXConfig{DAPTConfig: adapters.DAPTConfig{Config: smallBase(), Rank: 4,
			Head: adapters.HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}}, SMoAHeads: 3, Experts: 4, Alpha: 0.01}
		d, err := adapters.NewDAPTX(cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		return d, daptxLoss(cfg.Alpha)
	}
	stepCompare(t, eng, build, 1e-4)
}

func TestStepDAPTXTop1KeepDAPT(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	eng := emuEngine(t)
	build := func() (stepModel, stepLoss) {
		cfg := adapters.DAPTXConfig{DAPTConfig: adapters.DAPTConfig{Config: smallBase(), Rank: 4,
			Head: adapters.HeadTokens{Cls: true, Prompt: "max", Patch: "mean"}}, SMoAHeads: 3, Experts: 4, Alpha: 0.01,
			Top1: true, KeepDAPT: true, AdapterRank: 6}
		d, err := adapters.NewDAPTX(cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		return d, daptxLoss(cfg.Alpha)
	}
	stepCompare(t, eng, build, 1e-4)
}

func TestStepDAPT(t *testing.T) {
	eng := emuEngine(t)
	build := func() (stepModel, stepLoss) {
		d, err := adapters.NewDAPT(adapters.DAPTConfig{Config: smallBase(), Rank: 6,
			Head: adapters.HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}}, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		return d, func(tp *nn.Tape, l, _ *nn.Tensor, labels []int) *nn.Tensor {
			return nn.CrossEntropy(tp, l, labels, 0.1)
		}
	}
	stepCompare(t, eng, build, 1e-4)
}

func TestStepPointMAEFull(t *testing.T) {
	eng := emuEngine(t)
	build := func() (stepModel, stepLoss) {
		f, err := adapters.NewFull(smallBase(), rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		return f, func(tp *nn.Tape, l, _ *nn.Tensor, labels []int) *nn.Tensor { return nn.CrossEntropy(tp, l, labels, 0) }
	}
	stepCompare(t, eng, build, 1e-4)
}
