package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"time"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/nn/optim"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/points/knn"
	"github.com/pcx-dev/pcx/pretrain"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// pretrainReport is what pcx bench pretrain prints with --json.
type pretrainReport struct {
	Preset    string `json:"preset"`
	Batch     int    `json:"batch"`
	Points    int    `json:"points"`
	Groups    int    `json:"groups"`
	GroupSize int    `json:"group_size"`
	// Masked is the number of masked groups per cloud.
	Masked  int     `json:"masked"`
	Device  string  `json:"device"`
	GPU     string  `json:"gpu,omitempty"`
	BLAS    string  `json:"blas"`
	Workers int     `json:"workers"`
	MS      float64 `json:"ms"`
	GroupMS float64 `json:"group_ms"`
	PeakMB  int     `json:"peak_mb"`
	gpuPeak         // on cuda
	Repeat  int     `json:"repeat"`
	Loss    float32 `json:"loss"`
	Params  int     `json:"params"`
}

func pretrainBenchCommand() *cli.Command {
	return &cli.Command{
		Name:  "pretrain",
		Usage: "one Point-MAE pretraining step: grouping, mask, forward, Chamfer loss, backward, AdamW",
		Description: `Random surface-like clouds (unit sphere plus noise) of the preset's size; each step groups
them on the host as pcx pretrain does (FPS and kNN), draws a random mask of the preset's ratio,
runs the masked autoencoder in training mode (drop-path as the preset), the Chamfer-L2 loss of
the masked groups, backward, clips the gradient norm at the preset's and takes an AdamW step of
every parameter, in float32. The median of --repeat steps after one warm-up is reported, with
the grouping's share and the process's peak RSS. With --device cuda the model runs on the GPU
(the groups are made on the host and uploaded, as in pretraining) and each step ends with a
device synchronisation; the report adds the caching allocator's peak GPU memory.
scripts/bench_step.py --what pretrain runs the PyTorch reference of the same step in the same run.

Example:
   pcx bench pretrain --preset pointmae --batch 128 --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "preset", Value: "pointmae", Usage: "pretraining preset (pointmae or synth)"},
			&cli.IntFlag{Name: "batch", Value: 128, Usage: "clouds per step"},
			&cli.IntFlag{Name: "repeat", Value: 3, Usage: "timed steps (the median is reported) after one warm-up"},
			&cli.IntFlag{Name: "points", Usage: "points per cloud (0: the preset's)"},
			&cli.IntFlag{Name: "groups", Usage: "groups per cloud (0: the preset's)"},
			&cli.IntFlag{Name: "group-size", Usage: "points per group (0: the preset's)"},
			&cli.IntFlag{Name: "depth", Usage: "encoder blocks (0: the preset's)"},
			&cli.IntFlag{Name: "decoder-depth", Usage: "decoder blocks (0: the preset's)"},
			deviceFlag,
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: runPretrainBench,
	}
}

func runPretrainBench(c *cli.Context) error {
	mc, tc, err := pretrain.FromPreset(c.String("preset"))
	if err != nil {
		return fmt.Errorf("bench pretrain: %w", err)
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"points", &mc.NPoints}, {"groups", &mc.NumGroup}, {"group-size", &mc.GroupSize}, {"depth", &mc.Depth}, {"decoder-depth", &mc.DecoderDepth}} {
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
	if mc.NumGroup > mc.NPoints || mc.GroupSize > mc.NPoints {
		return fmt.Errorf("bench pretrain: %d groups of %d points cannot come from %d-point clouds", mc.NumGroup, mc.GroupSize, mc.NPoints)
	}
	b, n := c.Int("batch"), mc.NPoints
	// The clouds and groups, and about what a training step keeps for
	// backward: some 40 token-wide values per token and block (attention,
	// MLP, norms) plus the patch encoder's 1.4k per point.
	tok := memlimit.Bytes(int64(b), int64(mc.NumGroup), int64(mc.TransDim), int64(mc.Depth+mc.DecoderDepth), 40*4)
	pts := memlimit.Bytes(int64(b), int64(mc.NumGroup), int64(mc.GroupSize), 1400*4)
	if err := memlimit.Check(fmt.Sprintf("bench pretrain, batch %d", b), memlimit.Sum(tok, pts, memlimit.Bytes(int64(b), int64(n), 12))); err != nil {
		return err
	}
	cfg := mc.Backbone()
	dev, eng, closeDev, err := openDevice(c, os.Stderr)
	if err != nil {
		return err
	}
	defer closeDev()
	m, err := backbone.NewPointMAEPretrain(cfg, pointcloud.NewRand(1))
	if err != nil {
		return fmt.Errorf("bench pretrain: %w", err)
	}
	xyz := sphereClouds(b, n, 2)
	rep := pretrainReport{Preset: c.String("preset"), Batch: b, Points: n, Groups: cfg.NumGroup, GroupSize: cfg.GroupSize,
		Masked: cfg.NumMask(), Device: "cpu", BLAS: blas.Backend(), Workers: runtime.GOMAXPROCS(0), Repeat: c.Int("repeat")}
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
	opt := optim.NewAdamW(m.Params(), tc.WeightDecay)
	clip := tc.ClipGrad
	if clip == 0 {
		clip = math.Inf(1)
	}
	pool := nn.NewPool()
	r := pointcloud.NewRand(3)
	var groupTime time.Duration
	step := func() (err error) {
		defer recoverDeviceError(&err)
		t0 := time.Now()
		g, err := points.Group(xyz, b, n, cfg.NumGroup, cfg.GroupSize, knn.Options{})
		if err != nil {
			return err
		}
		mask, err := m.DrawMask(g, r)
		if err != nil {
			return err
		}
		groupTime = time.Since(t0)
		m.Params().ZeroGrad()
		tp := nn.NewTapePool(true, pool).ReleaseInBackward()
		defer func() { tp.Release() }() // nil after the explicit Release
		out, err := m.Forward(tp, g, mask, r)
		if err != nil {
			return err
		}
		tp.Backward(out.Loss)
		rep.Loss = out.Loss.Host()[0]
		tp.Release()
		tp = nil
		optim.ClipGradNorm(opt.Params, clip)
		opt.Step(tc.LR)
		sync()
		return nil
	}
	dt, err := medianTime(step, c.Int("repeat"))
	if err != nil {
		return err
	}
	rep.MS, rep.GroupMS, rep.PeakMB, rep.Params = round4(dt.Seconds()*1e3), round4(groupTime.Seconds()*1e3), train.PeakRSSMB(), opt.Params.Count()
	rep.gpuPeak = readGPUPeak(dev)
	if c.Bool("json") {
		return writeJSON(os.Stdout, rep)
	}
	fmt.Printf("%s pretraining step, batch %d × %d points, %d groups of %d, %d masked (%s, %s, %d cores): %.0f ms (grouping and mask %.1f ms), peak RSS %d MB",
		rep.Preset, b, n, rep.Groups, rep.GroupSize, rep.Masked, rep.Device, rep.BLAS, rep.Workers, rep.MS, rep.GroupMS, rep.PeakMB)
	fmt.Println(rep.gpuPeak)
	return nil
}
