package main

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/optim"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"github.com/pcx-dev/pcx/vision"
	"github.com/urfave/cli/v2"
)

type stepReport struct {
	Preset  string  `json:"preset"`
	Method  string  `json:"method"`
	Batch   int     `json:"batch"`
	Points  int     `json:"points"`
	Device  string  `json:"device"`
	GPU     string  `json:"gpu,omitempty"`
	BLAS    string  `json:"blas"`
	MS      float64 `json:"ms"`
	GroupMS float64 `json:"group_ms"`
	PeakMB  int     `json:"peak_mb"`
	gpuPeak         // on cuda
	Repeat  int     `json:"repeat"`
	Loss    float32 `json:"loss"`
	Tunable int     `json:"tunable"`
	// Profile is --profile's per-phase time and memory (Point-MAE presets).
	Profile *stepProfileReport `json:"profile,omitempty"`
}

func stepCommand() *cli.Command {
	return &cli.Command{
		Name:  "step",
		Usage: "one training step of a method: grouping, forward, backward, AdamW",
		Description: `Random surface-like clouds; FPS and kNN grouping, the method's forward, cross-entropy (plus
DAPT-X's balance loss), backward, the gradient norm clipped at 10 and an AdamW update of the
tunable parameters, in training mode, in float32: the model and step of pcx train for the
preset and --method (full, linear, dapt, dapt-x), with random weights.
With --device cuda every part runs on the GPU (grouping too) and each step ends with a
device synchronisation; the report adds the caching allocator's peak GPU memory.
scripts/bench_step.py runs the PyTorch reference of the same step in the same run.

With --profile (Point-MAE presets), every step is profiled (nn.Profile) and the report adds
the median time of each phase's forward and backward (grouping, encoder, embed, each block,
head with the final norm and the loss, the optimiser with clipping), the bytes of the step's
pooled tensors (activations and their gradients) alive at each phase boundary and at the peak,
and the ten largest groups of tensors alive at the peak, by the operation that made them and
their shape. Profiling records every buffer handed out, which costs a little time.

With a ViT preset (--model vit-b16), one image step instead: random images of the preset's
size, the method's forward (frozen backbone for the PEFT methods), cross-entropy plus the -x
methods' balance loss, backward and AdamW.

Example:
   pcx bench step --preset scan_hardest --method dapt-x --device cuda --json
   pcx bench step --preset scan_hardest --method full --profile
   pcx bench step --model vit-b16 --method adaptformer-x --batch 32`,
		Flags: append(pointModelFlags("full, linear, dapt or dapt-x for a Point-MAE preset; any image method for a ViT preset (default adaptformer-x)",
			"clouds per step", "timed steps (the median is reported) after one warm-up"),
			&cli.IntFlag{Name: "image-size", Usage: "ViT presets: input size (0: the preset's)"},
			&cli.BoolFlag{Name: "profile", Usage: "Point-MAE presets: per-phase time and memory of the step"}),
		Action: runStepBench,
	}
}

func runStepBench(c *cli.Context) error {
	if presets.IsImageModel(c.String("preset")) {
		return runImageStepBench(c)
	}
	pb, closeDev, err := newPointBench(c, "bench step")
	if err != nil {
		return err
	}
	defer closeDev()
	m, mc, dev, eng, xyz, b, n := pb.m, pb.m.Cfg, pb.dev, pb.eng, pb.xyz, pb.b, pb.n
	labels := make([]int, b)
	for i := range labels {
		labels[i] = i % mc.Classes
	}
	rep := stepReport{Preset: c.String("preset"), Method: mc.Method, Batch: b, Points: n, Device: "cpu", BLAS: blas.Backend(),
		Repeat: c.Int("repeat")}
	grouper, sync, restore := placeOnDevice(m.Params(), dev, eng)
	defer restore()
	if eng != nil {
		rep.Device, rep.GPU, rep.BLAS = "cuda", dev.Info().Name, "cublas"
	}
	opt := optim.NewAdamW(m.Params(), 0.05)
	pool := nn.NewPool()
	var prof *nn.Profile
	var profiles []nn.StepProfile
	if c.Bool("profile") {
		prof = nn.NewProfile(pool)
		if eng != nil {
			prof.Sync = sync
		}
		defer prof.Close()
	}
	r := pointcloud.NewRand(3)
	var groupTime time.Duration
	// One step of pcx train (train.runner.step with classify.Task.Step):
	// the method's forward and loss, backward, the gradient norm clipped at
	// 10, AdamW.
	step := func() (err error) {
		defer recoverDeviceError(&err)
		m.Params().ZeroGrad()
		if prof != nil {
			prof.Start()
		}
		tp := nn.NewTapePool(true, pool).ReleaseInBackward()
		defer func() { tp.Release() }() // nil after the explicit Release
		tp.Phase("grouping")
		t0 := time.Now()
		var g *backbone.Groups
		if grouper != nil {
			g = points.GroupOn(tp, grouper, xyz, b, n, mc.Groups, mc.GroupSize)
			sync()
		} else if g, err = m.Group(xyz, b, n); err != nil {
			return err
		}
		groupTime = time.Since(t0)
		logits, bal := m.ForwardAux(tp, g, r)
		l := classify.StepOutput(tp, logits, labels, bal, mc.Alpha).Objective(tp)
		tp.Backward(l)
		if prof != nil {
			prof.Phase("optimiser")
		}
		rep.Loss = l.Host()[0]
		tp.Release()
		tp = nil
		optim.ClipGradNorm(opt.Params, 10)
		opt.Step(5e-4)
		sync()
		if prof != nil {
			profiles = append(profiles, prof.Stop())
		}
		return nil
	}
	dt, err := medianTime(step, c.Int("repeat"))
	if err != nil {
		return err
	}
	rep.MS, rep.GroupMS, rep.PeakMB, rep.Tunable = round4(dt.Seconds()*1e3), round4(groupTime.Seconds()*1e3), train.PeakRSSMB(), opt.Params.Count()
	rep.gpuPeak = readGPUPeak(dev)
	if prof != nil {
		rep.Profile = newStepProfileReport(profiles[1:], m.Params(), opt.Params) // without the warm-up
	}
	if c.Bool("json") {
		return writeJSON(os.Stdout, rep)
	}
	fmt.Printf("%s %s step, batch %d × %d points (%s, %s): %.0f ms (grouping %.1f ms), peak RSS %d MB, %d tunable parameters",
		rep.Preset, rep.Method, b, n, rep.Device, rep.BLAS, rep.MS, rep.GroupMS, rep.PeakMB, rep.Tunable)
	fmt.Println(rep.gpuPeak)
	if rep.Profile != nil {
		rep.Profile.print(os.Stdout, rep.MS)
	}
	return nil
}

// mib converts bytes to MiB, rounded to 0.001.
func mib(b int64) float64 { return math.Round(float64(b)/(1<<20)*1e3) / 1e3 }

// runImageStepBench times one training step of a ViT method on random
// images.
func runImageStepBench(c *cli.Context) error {
	if c.Bool("profile") {
		return fmt.Errorf("bench step: --profile is for Point-MAE presets, not %s", c.String("preset"))
	}
	method := "adaptformer-x"
	if c.IsSet("method") {
		method = c.String("method")
	}
	for _, f := range []string{"batch", "repeat"} {
		if _, err := intAtLeast(c, f, 1); err != nil {
			return err
		}
	}
	if _, err := intAtLeast(c, "image-size", 0); err != nil {
		return err
	}
	mc, err := vision.ResolveModel(c.String("preset"), method, 100, c.Int("image-size"))
	if err != nil {
		return err
	}
	if d := c.Int("depth"); d > 0 {
		mc.Depth = d
	}
	if err := mc.Validate(); err != nil {
		return fmt.Errorf("bench step: %w", err)
	}
	dev, eng, closeDev, err := openDevice(c, os.Stderr)
	if err != nil {
		return err
	}
	defer closeDev()
	m, err := vision.NewModel(mc, pointcloud.NewRand(1))
	if err != nil {
		return err
	}
	b, size := c.Int("batch"), mc.ImageSize
	r := pointcloud.NewRand(2)
	pix := make([]float32, b*3*size*size)
	for i := range pix {
		pix[i] = float32(r.NormFloat64())
	}
	in := &backbone.Images{B: b, H: size, W: size, Pix: pix}
	labels := make([]int, b)
	for i := range labels {
		labels[i] = i % mc.Classes
	}
	rep := stepReport{Preset: c.String("preset"), Method: method, Batch: b, Points: size, Device: "cpu", BLAS: blas.Backend(),
		Repeat: c.Int("repeat")}
	sync := func() {}
	if eng != nil {
		m.Params().ToDevice(eng)
		defer m.Params().ToHost()
		sync = func() {
			if err := dev.Synchronize(); err != nil {
				panic(&nn.DeviceError{Err: err})
			}
		}
		rep.Device, rep.GPU, rep.BLAS = "cuda", dev.Info().Name, "cublas"
	}
	opt := optim.NewAdamW(m.Params(), 1e-4)
	pool := nn.NewPool()
	step := func() (err error) {
		defer recoverDeviceError(&err)
		m.Params().ZeroGrad()
		tp := nn.NewTapePool(true, pool).ReleaseInBackward()
		defer func() { tp.Release() }()
		logits, bal := m.Net.ForwardAux(tp, in, r)
		o := train.Output{Loss: nn.CrossEntropy(tp, logits, labels, 0)}
		if bal != nil {
			o.Aux = []train.Aux{{Name: "balance", Value: bal, Weight: mc.Alpha}}
		}
		l := o.Objective(tp)
		tp.Backward(l)
		rep.Loss = l.Host()[0]
		tp.Release()
		tp = nil
		opt.Step(1e-3)
		sync()
		return nil
	}
	dt, err := medianTime(step, c.Int("repeat"))
	if err != nil {
		return err
	}
	rep.MS, rep.PeakMB, rep.Tunable = round4(dt.Seconds()*1e3), train.PeakRSSMB(), opt.Params.Count()
	rep.gpuPeak = readGPUPeak(dev)
	if c.Bool("json") {
		return writeJSON(os.Stdout, rep)
	}
	fmt.Printf("%s %s step, batch %d × %d² images (%s, %s): %.0f ms, peak RSS %d MB, %d tunable parameters",
		rep.Preset, rep.Method, b, size, rep.Device, rep.BLAS, rep.MS, rep.PeakMB, rep.Tunable)
	fmt.Println(rep.gpuPeak)
	return nil
}

// recoverDeviceError turns a device failure raised during a step (a
// panic with *nn.DeviceError) into *err; other panics go on.
func recoverDeviceError(err *error) {
	if p := recover(); p != nil {
		de, ok := p.(*nn.DeviceError)
		if !ok {
			panic(p)
		}
		*err = de
	}
}

// pointModelFlags are the flags pcx bench step and pcx bench eval share:
// the preset, the method (described by methodUsage), the batch and
// repeat (described by batchUsage and repeatUsage), the Point-MAE sizes
// that override the preset's, --device and --json.
func pointModelFlags(methodUsage, batchUsage, repeatUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "preset", Aliases: []string{"model"}, Value: "scan_hardest", Usage: "model preset (see pcx presets)"},
		&cli.StringFlag{Name: "method", Value: "dapt-x", Usage: methodUsage},
		&cli.IntFlag{Name: "batch", Value: 32, Usage: batchUsage},
		&cli.IntFlag{Name: "repeat", Value: 3, Usage: repeatUsage},
		&cli.IntFlag{Name: "points", Usage: "points per cloud (0: the preset's)"},
		&cli.IntFlag{Name: "groups", Usage: "groups per cloud (0: the preset's)"},
		&cli.IntFlag{Name: "group-size", Usage: "points per group (0: the preset's)"},
		&cli.IntFlag{Name: "depth", Usage: "transformer blocks (0: the preset's)"},
		deviceFlag,
		&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
	}
}

// pointBench is what a Point-MAE benchmark sets up before it times
// anything: the model, the device (dev and eng nil on the CPU) and a batch
// of b clouds of n points.
type pointBench struct {
	m    *classify.Model
	dev  *cuda.Device
	eng  nn.Device
	xyz  []float32
	b, n int
}

// newPointBench builds the benchmark's model (what names the command in
// errors), opens the device and makes the clouds; the returned function
// closes the device.
func newPointBench(c *cli.Context, what string) (*pointBench, func(), error) {
	m, err := benchPointModel(c, what)
	if err != nil {
		return nil, nil, err
	}
	dev, eng, closeDev, err := openDevice(c, os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	b, n := c.Int("batch"), m.Cfg.Points
	return &pointBench{m: m, dev: dev, eng: eng, xyz: sphereClouds(b, n, 2), b: b, n: n}, closeDev, nil
}

// benchPointModel builds the model pcx train builds for --preset and
// --method (its settings, what it freezes) at the sizes the flags ask
// for, with random weights (seed 1), after classify's checks of the
// numbers and of the memory a batch of --batch clouds needs; what names
// the command in errors.
func benchPointModel(c *cli.Context, what string) (*classify.Model, error) {
	mc, err := classify.ResolveModel(c.String("preset"), c.String("method"), 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"points", &mc.Points}, {"groups", &mc.Groups}, {"group-size", &mc.GroupSize}, {"depth", &mc.Depth}} {
		n, err := intAtLeast(c, f.name, 0)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			*f.v = n
		}
	}
	for _, f := range []string{"batch", "repeat"} {
		if _, err := intAtLeast(c, f, 1); err != nil {
			return nil, err
		}
	}
	if err := mc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := mc.CheckBatch(what, c.Int("batch"), 0); err != nil {
		return nil, err
	}
	return classify.NewModel(mc, pointcloud.NewRand(1))
}

// placeOnDevice moves a benchmark model's parameters to eng when there is
// one, and returns its grouper (nil on the CPU), a function that waits for
// the device (so that a timing includes its work; nothing on the CPU) and
// one that moves the parameters back.
func placeOnDevice(ps nn.Params, dev *cuda.Device, eng nn.Device) (grouper points.Grouper, sync, restore func()) {
	if eng == nil {
		return nil, func() {}, func() {}
	}
	ps.ToDevice(eng)
	return eng.(points.Grouper), func() {
		if err := dev.Synchronize(); err != nil {
			panic(&nn.DeviceError{Err: err})
		}
	}, ps.ToHost
}

// gpuPeak is a benchmark report's device memory on cuda: the caching
// allocator's high-water mark (memory held, in use and cached; as
// torch.cuda.max_memory_reserved) and its largest in-use total (as
// torch.cuda.max_memory_allocated), both in MiB. Zero on the CPU.
type gpuPeak struct {
	GPUPeakMB      float64 `json:"gpu_peak_mb,omitempty"`
	GPUPeakInUseMB float64 `json:"gpu_peak_in_use_mb,omitempty"`
}

// readGPUPeak reads dev's allocator (the zero value when dev is nil).
func readGPUPeak(dev *cuda.Device) gpuPeak {
	if dev == nil {
		return gpuPeak{}
	}
	st := dev.Allocator().Stats()
	return gpuPeak{mib(st.Peak), mib(st.PeakInUse)}
}

// String ends a report line: the peaks on cuda, nothing on the CPU.
func (g gpuPeak) String() string {
	if g == (gpuPeak{}) {
		return ""
	}
	return fmt.Sprintf(", peak GPU memory %.0f MiB (%.0f MiB in use)", g.GPUPeakMB, g.GPUPeakInUseMB)
}
