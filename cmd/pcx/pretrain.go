package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pretrain"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

func pretrainCommand() *cli.Command {
	return &cli.Command{
		Name:        "pretrain",
		Usage:       "pretrain a Point-MAE backbone as a masked autoencoder (point clouds)",
		Subcommands: []*cli.Command{pretrainSynthCommand()},
	}
}

func pretrainFlags() []cli.Flag {
	t := pretrain.SynthSchedule()
	m := pretrain.SynthModel()
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "a pcx pretraining config.yaml (another run's); flags override it"},
		&cli.IntFlag{Name: "epochs", Value: t.Epochs, Usage: "training epochs"},
		&cli.IntFlag{Name: "batch", Value: t.BatchSize, Usage: "batch size (clouds per optimiser step)"},
		&cli.Float64Flag{Name: "lr", Value: t.LR, Usage: "peak learning rate of AdamW"},
		&cli.Float64Flag{Name: "mask-ratio", Value: m.MaskRatio, Usage: "share of each cloud's groups masked"},
		&cli.StringFlag{Name: "mask-type", Value: m.MaskType, Usage: "rand (groups at random) or block (the groups nearest a random centre)"},
		&cli.BoolFlag{Name: "test-loss", Usage: "evaluate the reconstruction loss on the test split every epoch"},
		&cli.StringFlag{Name: "probe", Usage: "labelled data set whose frozen encoder features a linear SVM is fitted on and scored on every epoch " +
			"(probe_svm_acc, Point-MAE's SVM validation): synth (the clouds pcx train synth uses; the default), synth:hardest, modelnet40:PATH..."},
		&cli.BoolFlag{Name: "no-probe", Usage: "no feature probe"},
		&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of initialisation, data order, augmentation, masks and drop-path (a run repeats exactly)"},
		&cli.IntFlag{Name: "workers", Value: 2, Usage: "data loader goroutines"},
		&cli.StringFlag{Name: "out", Usage: "run directory (default runs/synth-pretrain)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last checkpoint, with its own config.yaml"},
		&cli.BoolFlag{Name: "overwrite", Usage: "start a new run in --out even if it holds one, removing that run's files"},
		&cli.BoolFlag{Name: "plots", Value: true, Usage: "draw the run's loss curves at the end"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON at the end"},
		deviceFlag,
	}
}

// pretrainSettings are the flags that change a pretraining run's settings.
var pretrainSettings = []string{"config", "epochs", "batch", "lr", "mask-ratio", "mask-type", "test-loss", "seed", "probe", "no-probe"}

// pretrainConfig resolves a run's configuration: synth's, then --config,
// then the flags given.
func pretrainConfig(c *cli.Context) (pretrain.Config, error) {
	cfg := pretrain.SynthConfig()
	if p := c.String("config"); p != "" {
		var err error
		if cfg, err = pretrain.ReadConfig(p); err != nil {
			return cfg, err
		}
	}
	applyScheduleFlags(c, &cfg.Train)
	applySetters(c, []flagSetter{
		{"mask-ratio", func() { cfg.Model.MaskRatio = c.Float64("mask-ratio") }},
		{"mask-type", func() { cfg.Model.MaskType = c.String("mask-type") }},
		{"test-loss", func() { cfg.TestLoss = c.Bool("test-loss") }},
		{"probe", func() { cfg.Probe, cfg.ProbeVariant = c.String("probe"), "" }},
	})
	if c.Bool("no-probe") {
		if c.IsSet("probe") {
			return cfg, fmt.Errorf("--probe and --no-probe contradict each other: give one of them")
		}
		cfg.Probe, cfg.ProbeVariant, cfg.ProbeEvery = "", "", 0
	}
	return cfg, cfg.Validate()
}

func pretrainSynthCommand() *cli.Command {
	return &cli.Command{
		Name:  "synth",
		Usage: "pretrain on the built-in procedural data set's training clouds (labels unused): minutes on a CPU",
		Description: `Masks a share of each cloud's groups and trains Point-MAE's encoder and decoder to rebuild
them (Chamfer-L2 loss). The run directory holds config.yaml, metrics.jsonl and metrics.csv,
last.safetensors and best.safetensors (the whole model, Point-MAE's pretrain.pth key names),
and at the end backbone.safetensors: the encoder, for pcx train --ckpt. After each epoch a
linear SVM fitted on the encoder's frozen features of a labelled set (by default the clouds
pcx train synth uses) measures their quality: probe_svm_acc, as Point-MAE's SVM validation
(--probe SPEC, --no-probe). Ctrl-C saves the state; --resume continues exactly.

Example:
   pcx pretrain synth --epochs 30 --out runs/synth-pretrain
   pcx train synth --ckpt runs/synth-pretrain/backbone.safetensors`,
		Flags: pretrainFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("pcx pretrain synth takes no arguments (got %s)", state.Quote(c.Args().First()))
			}
			if c.Bool("resume") && c.Bool("overwrite") {
				return fmt.Errorf("--resume continues the run in --out and --overwrite replaces it: give one of them")
			}
			if err := checkDeviceName(c.String("device")); err != nil {
				return err
			}
			out := c.String("out")
			if out == "" {
				out = filepath.Join("runs", "synth-pretrain")
			}
			var cfg pretrain.Config
			var err error
			if c.Bool("resume") {
				var given []string
				for _, f := range pretrainSettings {
					if c.IsSet(f) {
						given = append(given, f)
					}
				}
				if len(given) > 0 {
					return fmt.Errorf("--resume continues %s with its own config.yaml; --%s cannot change it (start a new run instead)", out, strings.Join(given, ", --"))
				}
				path := filepath.Join(out, pretrain.ConfigFile)
				if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("no run to resume in %s (it has no %s); give the run directory with --out", out, pretrain.ConfigFile)
				}
				if cfg, err = pretrain.ReadConfig(path); err != nil {
					return err
				}
				if n, done := train.Complete(out); done {
					fmt.Printf("run %s is complete (%d epochs); nothing to do\n", out, n)
					return nil
				}
			} else if cfg, err = pretrainConfig(c); err != nil {
				return err
			}
			var data, probeData *datasets.Dataset
			return executeRun(c, runSpec{out: out, config: pretrain.ConfigFile, files: []string{pretrain.BackboneFile},
				resumeCmd: func() string { return pretrainResumeCommand(c, out) },
				load: func() (int, error) {
					var err error
					if data, err = pretrain.LoadData(cfg); err != nil {
						return 0, err
					}
					probeData, err = pretrain.LoadProbeData(cfg)
					return 0, err
				},
				run: func(ctx context.Context, _ int, log io.Writer, eng nn.Device) (*train.Result, error) {
					return pretrain.Train(ctx, cfg, data, out, pretrain.Options{Resume: c.Bool("resume"), Log: log, Progress: os.Stderr, Device: eng, ProbeData: probeData})
				},
				plots: func() ([]string, error) {
					p, err := plotCurves(out)
					if err != nil {
						return nil, err
					}
					return []string{p}, nil
				},
				result: func(res *train.Result, figs []string) error {
					bb := filepath.Join(out, pretrain.BackboneFile)
					if c.Bool("json") {
						return writeJSON(os.Stdout, struct {
							Dir       string   `json:"dir"`
							Metric    string   `json:"metric"`
							Best      float64  `json:"best"`
							BestEpoch int      `json:"best_epoch"`
							Last      float64  `json:"last"`
							Backbone  string   `json:"backbone"`
							Figures   []string `json:"figures"`
						}{out, res.Metric, res.Best, res.BestEpoch, res.Last, bb, figs})
					}
					fmt.Printf("best %s %.5f (epoch %d), last epoch %.5f\n", res.Metric, res.Best, res.BestEpoch, res.Last)
					for _, f := range figs {
						fmt.Println("figure", f)
					}
					fmt.Printf("backbone %s\nfine-tune: pcx train synth --ckpt %s\n", bb, shellQuote(bb))
					return nil
				},
			})
		},
	}
}

// pretrainResumeCommand is the command line that continues the run in out.
func pretrainResumeCommand(c *cli.Context, out string) string {
	return resumeLine(c, []string{"pcx", "pretrain", "synth"}, out, "device", "workers", "plots", "json")
}
