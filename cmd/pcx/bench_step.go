package main

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/blas"
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
	// GPUPeakMB is the caching allocator's high-water mark (device memory
	// held, in use and cached; as torch.cuda.max_memory_reserved) and
	// GPUPeakInUseMB its largest in-use total (as
	// torch.cuda.max_memory_allocated), both in MiB.
	GPUPeakMB      float64 `json:"gpu_peak_mb,omitempty"`
	GPUPeakInUseMB float64 `json:"gpu_peak_in_use_mb,omitempty"`
	Repeat         int     `json:"repeat"`
	Loss           float32 `json:"loss"`
	Tunable        int     `json:"tunable"`
}

func stepCommand() *cli.Command {
	return &cli.Command{
		Name:  "step",
		Usage: "one DAPT-X training step: grouping, forward, backward, AdamW",
		Description: `Random surface-like clouds; FPS and kNN grouping, forward, cross-entropy plus the balance
loss, backward and an AdamW update of the tunable parameters, in training mode, in float32.
With --device cuda every part runs on the GPU (grouping too) and each step ends with a
device synchronisation; the report adds the caching allocator's peak GPU memory.
scripts/bench_step.py runs the PyTorch reference of the same step in the same run.

With a ViT preset (--model vit-b16), one image step instead: random images of the preset's
size, the method's forward (frozen backbone for the PEFT methods), cross-entropy plus the -x
methods' balance loss, backward and AdamW.

Example:
   pcx bench step --preset scan_hardest --method dapt-x --device cuda --json
   pcx bench step --model vit-b16 --method adaptformer-x --batch 32`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "preset", Aliases: []string{"model"}, Value: "scan_hardest", Usage: "model preset (see pcx presets)"},
			&cli.StringFlag{Name: "method", Value: "dapt-x", Usage: "dapt-x for a Point-MAE preset; any image method for a ViT preset (default adaptformer-x)"},
			&cli.IntFlag{Name: "image-size", Usage: "ViT presets: input size (0: the preset's)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "clouds per step"},
			&cli.IntFlag{Name: "repeat", Value: 3, Usage: "timed steps (the median is reported) after one warm-up"},
			&cli.IntFlag{Name: "points", Usage: "points per cloud (0: the preset's)"},
			&cli.IntFlag{Name: "groups", Usage: "groups per cloud (0: the preset's)"},
			&cli.IntFlag{Name: "group-size", Usage: "points per group (0: the preset's)"},
			&cli.IntFlag{Name: "depth", Usage: "transformer blocks (0: the preset's)"},
			deviceFlag,
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: runStepBench,
	}
}

func runStepBench(c *cli.Context) error {
	if presets.IsImageModel(c.String("preset")) {
		return runImageStepBench(c)
	}
	if c.String("method") != "dapt-x" {
		return fmt.Errorf("bench step: method %q is not timed (use dapt-x)", c.String("method"))
	}
	cfg, err := adapters.DAPTXPreset(c.String("preset"))
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"points", &cfg.NPoints}, {"groups", &cfg.NumGroup}, {"group-size", &cfg.GroupSize}, {"depth", &cfg.Depth}} {
		n, err := intAtLeast(c, f.name, 0)
		if err != nil {
			return err
		}
		if n > 0 {
			*f.v = n
		}
	}
	for _, f := range []string{"batch", "repeat"} {
		if _, err := intAtLeast(c, f, 1); err != nil {
			return err
		}
	}
	// The model classify would build with these sizes: its checks of the
	// numbers and of the memory a training batch needs.
	mc := classify.ModelConfig{TransDim: cfg.TransDim, Depth: cfg.Depth, Heads: cfg.Heads, Classes: cfg.Classes,
		Groups: cfg.NumGroup, GroupSize: cfg.GroupSize, Points: cfg.NPoints}
	if err := mc.Validate(); err != nil {
		return fmt.Errorf("bench step: %w", err)
	}
	if err := mc.CheckBatch("bench step", c.Int("batch"), 0); err != nil {
		return err
	}
	dev, eng, closeDev, err := openDevice(c, os.Stderr)
	if err != nil {
		return err
	}
	defer closeDev()
	d, err := adapters.NewDAPTX(cfg, pointcloud.NewRand(1))
	if err != nil {
		return err
	}
	b, n := c.Int("batch"), cfg.NPoints
	xyz := sphereClouds(b, n, 2)
	labels := make([]int, b)
	for i := range labels {
		labels[i] = i % cfg.Classes
	}
	rep := stepReport{Preset: c.String("preset"), Method: "dapt-x", Batch: b, Points: n, Device: "cpu", BLAS: blas.Backend(),
		Repeat: c.Int("repeat")}
	var grouper points.Grouper
	sync := func() {}
	if eng != nil {
		d.Params().ToDevice(eng)
		defer d.Params().ToHost()
		grouper = eng.(points.Grouper)
		sync = func() {
			if err := dev.Synchronize(); err != nil {
				panic(&nn.DeviceError{Err: err})
			}
		}
		rep.Device, rep.GPU, rep.BLAS = "cuda", dev.Info().Name, "cublas"
	}
	opt := optim.NewAdamW(d.Params(), 0.05)
	pool := nn.NewPool()
	r := pointcloud.NewRand(3)
	var groupTime time.Duration
	step := func() (err error) {
		defer recoverDeviceError(&err)
		d.Params().ZeroGrad()
		tp := nn.NewTapePool(true, pool)
		defer func() { tp.Release() }() // nil after the explicit Release
		t0 := time.Now()
		var g *backbone.Groups
		if grouper != nil {
			g = points.GroupOn(tp, grouper, xyz, b, n, cfg.NumGroup, cfg.GroupSize)
			sync()
		} else if g, err = d.Group(xyz, b, n); err != nil {
			return err
		}
		groupTime = time.Since(t0)
		logits, bal := d.ForwardAux(tp, g, r)
		l := train.Output{Loss: nn.CrossEntropy(tp, logits, labels, 0),
			Aux: []train.Aux{{Name: "balance", Value: bal, Weight: d.Cfg.Alpha}}}.Objective(tp)
		tp.Backward(l)
		rep.Loss = l.Host()[0]
		tp.Release()
		tp = nil
		optim.ClipGradNorm(opt.Params, 10)
		opt.Step(5e-4)
		sync()
		return nil
	}
	dt, err := medianTime(step, c.Int("repeat"))
	if err != nil {
		return err
	}
	rep.MS, rep.GroupMS, rep.PeakMB, rep.Tunable = round4(dt.Seconds()*1e3), round4(groupTime.Seconds()*1e3), train.PeakRSSMB(), opt.Params.Count()
	if dev != nil {
		st := dev.Allocator().Stats()
		rep.GPUPeakMB, rep.GPUPeakInUseMB = mib(st.Peak), mib(st.PeakInUse)
	}
	if c.Bool("json") {
		return writeJSON(os.Stdout, rep)
	}
	fmt.Printf("%s %s step, batch %d × %d points (%s, %s): %.0f ms (grouping %.1f ms), peak RSS %d MB",
		rep.Preset, rep.Method, b, n, rep.Device, rep.BLAS, rep.MS, rep.GroupMS, rep.PeakMB)
	if dev != nil {
		fmt.Printf(", peak GPU memory %.0f MiB (%.0f MiB in use)", rep.GPUPeakMB, rep.GPUPeakInUseMB)
	}
	fmt.Println()
	return nil
}

// mib converts bytes to MiB, rounded to 0.001.
func mib(b int64) float64 { return math.Round(float64(b)/(1<<20)*1e3) / 1e3 }

// runImageStepBench times one training step of a ViT method on random
// images.
func runImageStepBench(c *cli.Context) error {
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
		tp := nn.NewTapePool(true, pool)
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
	if dev != nil {
		st := dev.Allocator().Stats()
		rep.GPUPeakMB, rep.GPUPeakInUseMB = mib(st.Peak), mib(st.PeakInUse)
	}
	if c.Bool("json") {
		return writeJSON(os.Stdout, rep)
	}
	fmt.Printf("%s %s step, batch %d × %d² images (%s, %s): %.0f ms, peak RSS %d MB, %d tunable parameters",
		rep.Preset, rep.Method, b, size, rep.Device, rep.BLAS, rep.MS, rep.PeakMB, rep.Tunable)
	if dev != nil {
		fmt.Printf(", peak GPU memory %.0f MiB (%.0f MiB in use)", rep.GPUPeakMB, rep.GPUPeakInUseMB)
	}
	fmt.Println()
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
