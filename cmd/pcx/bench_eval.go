package main

import (
	"fmt"
	"os"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// evalReport is what pcx bench eval prints with --json.
type evalReport struct {
	Preset string `json:"preset"`
	Method string `json:"method"`
	Batch  int    `json:"batch"`
	Points int    `json:"points"`
	// MS is the median milliseconds of one batch (grouping and forward);
	// SamplesPerSec is Batch over it.
	MS            float64 `json:"ms"`
	SamplesPerSec float64 `json:"samples_per_sec"`
	// PeakMB is the process's peak RSS (VmHWM) in MB.
	PeakMB  int    `json:"peak_mb"`
	BLAS    string `json:"blas"`
	Device  string `json:"device"`
	GPU     string `json:"gpu,omitempty"`
	gpuPeak        // on cuda
	Repeat  int    `json:"repeat"`
	// Correct counts the last batch's rows whose largest logit is their
	// label (i mod classes): a check that the logits were read.
	Correct int `json:"correct"`
}

func evalBenchCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "inference of a method: grouping and a forward pass in evaluation mode, no gradients",
		Description: `Random surface-like clouds; FPS and kNN grouping and the method's forward in evaluation mode
(no dropout or drop-path, BatchNorm on its running statistics) on a tape that records nothing
for backward, as pcx train's evaluation and pcx eval run it: the model of pcx bench step for
the preset and --method (full, linear, dapt, dapt-x), with random weights. Reports the median
milliseconds of a batch, samples per second and the process's peak RSS (VmHWM).
scripts/bench_step.py --what eval runs PyTorch's model.eval() under torch.no_grad() on the
same model in the same run and prints the ratios.

Example:
   pcx bench eval --preset scan_hardest --method dapt-x --batch 32 --json`,
		Flags: pointModelFlags("full, linear, dapt or dapt-x (Point-MAE presets)", "clouds per batch",
			"timed batches (the median is reported) after one warm-up"),
		Action: runEvalBench,
	}
}

func runEvalBench(c *cli.Context) error {
	if presets.IsImageModel(c.String("preset")) {
		return fmt.Errorf("bench eval: %s is an image model; bench eval times Point-MAE presets", c.String("preset"))
	}
	pb, closeDev, err := newPointBench(c, "bench eval")
	if err != nil {
		return err
	}
	defer closeDev()
	m, mc, dev, eng, xyz, b, n := pb.m, pb.m.Cfg, pb.dev, pb.eng, pb.xyz, pb.b, pb.n
	rep := evalReport{Preset: c.String("preset"), Method: mc.Method, Batch: b, Points: n, Device: "cpu", BLAS: blas.Backend(),
		Repeat: c.Int("repeat")}
	grouper, sync, restore := placeOnDevice(m.Params(), dev, eng)
	defer restore()
	if eng != nil {
		rep.Device, rep.GPU, rep.BLAS = "cuda", dev.Info().Name, "cublas"
	}
	pool := nn.NewPool()
	// One batch of train.EvaluateShowing with classify.Task.Step, less
	// the loss: grouping, the forward on an evaluation-mode tape that
	// records nothing, the logits read back and the predictions taken.
	batch := func() (err error) {
		defer recoverDeviceError(&err)
		tp := nn.NewTapePool(false, pool).Scope()
		defer tp.Release()
		var g *backbone.Groups
		if grouper != nil {
			g = points.GroupOn(tp, grouper, xyz, b, n, mc.Groups, mc.GroupSize)
		} else if g, err = m.Group(xyz, b, n); err != nil {
			return err
		}
		logits := m.Forward(tp, g, nil)
		rep.Correct = 0
		for i, p := range nn.ArgmaxRows(logits.Host(), b, logits.Dim(-1)) {
			if p == i%mc.Classes {
				rep.Correct++
			}
		}
		sync()
		return nil
	}
	dt, err := medianTime(batch, c.Int("repeat"))
	if err != nil {
		return err
	}
	rep.MS, rep.PeakMB = round4(dt.Seconds()*1e3), train.PeakRSSMB()
	if dt > 0 {
		rep.SamplesPerSec = round4(float64(b) / dt.Seconds())
	}
	rep.gpuPeak = readGPUPeak(dev)
	if c.Bool("json") {
		return writeJSON(os.Stdout, rep)
	}
	fmt.Printf("%s %s inference, batch %d × %d points (%s, %s): %.1f ms per batch, %.1f samples/s, peak RSS %d MB",
		rep.Preset, rep.Method, b, n, rep.Device, rep.BLAS, rep.MS, rep.SamplesPerSec, rep.PeakMB)
	fmt.Println(rep.gpuPeak)
	return nil
}
