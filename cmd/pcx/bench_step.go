package main

import (
	"fmt"
	"github.com/pcx-dev/pcx/train"
	"os"
	"time"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/nn/optim"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/urfave/cli/v2"
)

type stepReport struct {
	Preset  string  `json:"preset"`
	Method  string  `json:"method"`
	Batch   int     `json:"batch"`
	Points  int     `json:"points"`
	BLAS    string  `json:"blas"`
	MS      float64 `json:"ms"`
	GroupMS float64 `json:"group_ms"`
	PeakMB  int     `json:"peak_mb"`
	Repeat  int     `json:"repeat"`
	Loss    float32 `json:"loss"`
	Tunable int     `json:"tunable"`
}

func stepCommand() *cli.Command {
	return &cli.Command{
		Name:  "step",
		Usage: "one DAPT-X training step: grouping, forward, backward, AdamW",
		Description: `Random surface-like clouds; FPS and kNN grouping, forward, cross-entropy plus the balance
loss, backward and an AdamW update of the tunable parameters, in training mode.
scripts/bench_step.py runs the PyTorch reference of the same step in the same run.

Example:
   pcx bench step --preset scan_hardest --method dapt-x --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "preset", Value: "scan_hardest"},
			&cli.StringFlag{Name: "method", Value: "dapt-x", Usage: "dapt-x (the only method timed so far)"},
			&cli.IntFlag{Name: "batch", Value: 32},
			&cli.IntFlag{Name: "repeat", Value: 3, Usage: "timed steps (the median is reported) after one warm-up"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: func(c *cli.Context) error {
			if c.String("method") != "dapt-x" {
				return fmt.Errorf("bench step: method %q is not timed (use dapt-x)", c.String("method"))
			}
			cfg, err := adapters.DAPTXPreset(c.String("preset"))
			if err != nil {
				return err
			}
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
			opt := optim.NewAdamW(d.Params(), 0.05)
			pool := nn.NewPool()
			r := pointcloud.NewRand(3)
			var loss float32
			var groupTime time.Duration
			step := func() error {
				t0 := time.Now()
				g, err := d.Group(xyz, b, n)
				if err != nil {
					return err
				}
				groupTime = time.Since(t0)
				d.Params().ZeroGrad()
				tp := nn.NewTapePool(true, pool)
				logits := d.Forward(tp, g, r)
				l := d.Loss(tp, logits, labels)
				tp.Backward(l)
				loss = l.Data[0]
				tp.Release()
				optim.ClipGradNorm(opt.Params, 10)
				opt.Step(5e-4)
				return nil
			}
			dt, err := medianTime(step, c.Int("repeat"))
			if err != nil {
				return err
			}
			rep := stepReport{Preset: c.String("preset"), Method: "dapt-x", Batch: b, Points: n, BLAS: blas.Backend(),
				MS: round4(dt.Seconds() * 1e3), GroupMS: round4(groupTime.Seconds() * 1e3), PeakMB: train.PeakRSSMB(),
				Repeat: c.Int("repeat"), Loss: loss, Tunable: opt.Params.Count()}
			if c.Bool("json") {
				return writeJSON(os.Stdout, rep)
			}
			fmt.Printf("%s %s step, batch %d × %d points (%s): %.0f ms (grouping %.1f ms), peak RSS %d MB\n",
				rep.Preset, rep.Method, b, n, rep.BLAS, rep.MS, rep.GroupMS, rep.PeakMB)
			return nil
		},
	}
}
