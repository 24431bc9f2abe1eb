package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/images"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/plot"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/pretrain"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// reconstructionRows is the number of held-out images the figure shows.
const reconstructionRows = 8

// pretrainImageKinds are pcx pretrain's image subcommands: the data kind,
// the default preset and what --data is.
var pretrainImageKinds = []struct{ kind, preset, usage, example string }{
	{"images", "mae-base", "pretrain an image MAE on every image under a folder (png, jpg, jpeg, gif; recursive, labels unused)",
		"pcx pretrain images --data photos --preset vit-mini --image-size 28 --out runs/photos-mae"},
	{"fashion-mnist", "vit-mini", "pretrain an image MAE on Fashion-MNIST's 60,000 training images (labels unused): about 20 minutes on two CPU cores",
		"pcx pretrain fashion-mnist --out runs/fmnist-mae\n   pcx train fashion-mnist --ckpt runs/fmnist-mae/backbone.safetensors --train-subset 1000 --method adaptformer-x"},
	{"cifar", "vit-mini", "pretrain an image MAE on CIFAR-10 or CIFAR-100's training images (labels unused)",
		"pcx pretrain cifar --data cifar-10-batches-py --out runs/cifar-mae\n   pcx train cifar --data cifar-10-batches-py --ckpt runs/cifar-mae/backbone.safetensors"},
}

func pretrainImageCommands() []*cli.Command {
	var out []*cli.Command
	for _, k := range pretrainImageKinds {
		out = append(out, pretrainImageCommand(k.kind, k.preset, k.usage, k.example))
	}
	return out
}

func pretrainImageFlags(kind, preset string) []cli.Flag {
	cfg, err := pretrain.ImageConfigFor(kind, preset)
	if err != nil {
		panic(err) // the built-in tables lack the kind or preset
	}
	t := cfg.Train
	dataUsage := "the data set's folder"
	if cfg.Data != "" {
		dataUsage += " (default " + cfg.Data + ")"
	}
	probeUsage := "a labelled image folder pcx reads (idx files, CIFAR, class folders, a VTAB-1K task) or data (the run's own data with its labels)"
	if cfg.Probe != "" {
		probeUsage += "; " + kind + "'s default: data, 1,000 training images (pcx train --train-subset 1000's) and 2,000 test images"
	}
	return append([]cli.Flag{
		&cli.StringFlag{Name: "data", Usage: dataUsage},
		&cli.StringFlag{Name: "config", Usage: "a pcx image pretraining config.yaml (another run's); flags override it"},
		&cli.StringFlag{Name: "preset", Value: preset, Usage: "image pretraining preset (pcx presets: vit-mini, mae-base)"},
		&cli.IntFlag{Name: "image-size", Usage: "input size (default: the preset's, 32 for cifar with vit-mini)"},
		&cli.IntFlag{Name: "epochs", Value: t.Epochs, Usage: "training epochs (the preset's by default)"},
		&cli.IntFlag{Name: "batch", Value: t.BatchSize, Usage: "batch size (images per optimiser step)"},
		&cli.Float64Flag{Name: "lr", Value: t.LR, Usage: "peak learning rate of AdamW"},
		&cli.Float64Flag{Name: "mask-ratio", Value: cfg.Model.MaskRatio, Usage: "share of each image's patches masked"},
		&cli.IntFlag{Name: "subset", Usage: "pretrain on this many training images picked by the seed (0: all), for quick runs"},
		&cli.BoolFlag{Name: "test-loss", Value: true, Usage: "evaluate the reconstruction loss on held-out images every epoch"},
	}, append(probeFlags(probeUsage),
		&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of initialisation, data order, augmentation and masks (a run repeats exactly)"},
		&cli.IntFlag{Name: "workers", Value: 2, Usage: "data loader goroutines"},
		&cli.StringFlag{Name: "out", Usage: "run directory (default runs/" + kind + "-pretrain)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last checkpoint, with its own config.yaml"},
		&cli.BoolFlag{Name: "overwrite", Usage: "start a new run in --out even if it holds one, removing that run's files"},
		&cli.BoolFlag{Name: "plots", Value: true, Usage: "draw the loss curves and a reconstruction grid at the end"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON at the end"},
		deviceFlag,
		distFlag, shardsFlag, deterministicFlag,
	)...)
}

// pretrainImageSettings are the flags that change an image pretraining
// run's settings (which --resume refuses).
var pretrainImageSettings = append([]string{"data", "config", "preset", "image-size", "epochs", "batch", "lr", "mask-ratio", "subset", "test-loss", "seed"}, probeSettings...)

// pretrainImageConfig resolves a run's configuration: the preset's on the
// kind, then --config, then the flags given.
func pretrainImageConfig(c *cli.Context, kind string) (pretrain.ImageConfig, error) {
	cfg, err := pretrain.ImageConfigFor(kind, c.String("preset"))
	if err != nil {
		return cfg, err
	}
	if p := c.String("config"); p != "" {
		if cfg, err = pretrain.ReadImageConfig(p); err != nil {
			return cfg, err
		}
		if cfg.Kind != kind {
			return cfg, fmt.Errorf("%s is a %s run's configuration, not %s's", p, cfg.Kind, kind)
		}
		if c.IsSet("preset") {
			p, err := pretrain.ImageConfigFor(kind, c.String("preset"))
			if err != nil {
				return cfg, err
			}
			cfg.Preset, cfg.Model, cfg.Train = p.Preset, p.Model, p.Train
		}
	}
	if c.IsSet("image-size") {
		cfg.Model.ImageSize = c.Int("image-size")
	}
	applyScheduleFlags(c, &cfg.Train)
	applySetters(c, []flagSetter{
		{"data", func() { cfg.Data = c.String("data") }},
		{"mask-ratio", func() { cfg.Model.MaskRatio = c.Float64("mask-ratio") }},
		{"subset", func() { cfg.Subset = c.Int("subset") }},
		{"test-loss", func() { cfg.TestLoss = c.Bool("test-loss") }},
	})
	if err := applyProbeFlags(c, func(spec string) {
		if cfg.Probe == "" { // a probe the configuration lacked: the default sizes
			cfg.ProbeTrain, cfg.ProbeTest = pretrain.ProbeTrainImages, pretrain.ProbeTestImages
		}
		cfg.Probe = spec
	}, func() { cfg.Probe, cfg.ProbeTrain, cfg.ProbeTest, cfg.ProbeEvery = "", 0, 0, 0 }); err != nil {
		return cfg, err
	}
	if cfg.Data == "" {
		return cfg, fmt.Errorf("pcx pretrain %s needs --data DIR", kind)
	}
	return cfg, cfg.Validate()
}

func pretrainImageCommand(kind, preset, usage, example string) *cli.Command {
	return &cli.Command{
		Name:  kind,
		Usage: usage,
		Description: `Masks a share of each image's patches and trains MAE's encoder and decoder to rebuild them
(the mean squared error of the masked patches' pixels, each patch normalised by its own mean and
variance), the training images augmented as MAE's main_pretrain.py does (random resized crops of
20% to 100% of the area, flips, ImageNet normalisation). The run directory holds config.yaml,
metrics.jsonl and metrics.csv, last.safetensors and best.safetensors (the whole model, MAE's key
names), and at the end backbone.safetensors (the encoder under timm's ViT names, for pcx train
--ckpt), curves.png and reconstruction.png (held-out images: original, masked, rebuilt, rebuilt
with the visible patches). After each epoch a linear SVM fitted on the encoder's frozen features
of a labelled set (the final norm's cls token of each whole image, as MAE's linear probing reads
it) measures their quality: probe_svm_acc (--probe DIR|data, --no-probe). Fashion-MNIST, MNIST and
CIFAR probe their own labelled images by default: 1,000 training images (those pcx train
--train-subset 1000 fine-tunes on) and 2,000 test images. Ctrl-C saves the state; --resume
continues exactly.

Example:
   ` + example,
		Flags: pretrainImageFlags(kind, preset),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("pcx pretrain %s takes no arguments (got %s)", kind, state.Quote(c.Args().First()))
			}
			if c.Bool("resume") && c.Bool("overwrite") {
				return fmt.Errorf("--resume continues the run in --out and --overwrite replaces it: give one of them")
			}
			if err := checkDeviceName(c.String("device")); err != nil {
				return err
			}
			out := c.String("out")
			if out == "" {
				out = filepath.Join("runs", kind+"-pretrain")
			}
			var cfg pretrain.ImageConfig
			var err error
			if c.Bool("resume") {
				if err := checkResume(out, pretrain.ConfigFile, flagsSet(c, pretrainImageSettings)); err != nil {
					return err
				}
				if cfg, err = pretrain.ReadImageConfig(filepath.Join(out, pretrain.ConfigFile)); err != nil {
					return err
				}
				if cfg.Kind != kind {
					return fmt.Errorf("%s holds a pcx pretrain %s run; resume it with that command", out, cfg.Kind)
				}
				resumeShards(c, &cfg.Train)
				if runComplete(out) {
					return nil
				}
			} else if cfg, err = pretrainImageConfig(c, kind); err != nil {
				return err
			}
			var data, probeData *pretrain.ImageCorpus
			return executeRun(c, runSpec{out: out, config: pretrain.ConfigFile, files: []string{pretrain.BackboneFile, reconstructionFigure},
				resumeCmd: func() string {
					return resumeLine(c, []string{"pcx", "pretrain", kind}, out, "device", "workers", "plots", "json")
				},
				load: func() (int, error) {
					var err error
					if data, err = pretrain.LoadImages(cfg); err != nil {
						return 0, err
					}
					probeData, err = pretrain.LoadImageProbeData(cfg)
					return 0, err
				},
				run: func(ctx context.Context, _ int, log io.Writer, eng nn.Device, par train.Parallel) (*train.Result, error) {
					return pretrain.TrainImages(ctx, cfg, data, out, pretrain.Options{Resume: c.Bool("resume"), Log: log, Progress: os.Stderr, Device: eng, Parallel: par,
						ImageProbeData: probeData})
				},
				plots: func() ([]string, error) {
					return pretrainFigures(out, func() (string, error) {
						return plotImageReconstruction(out, "", cfg, data, reconstructionRows)
					})
				},
				result: func(res *train.Result, figs []string) error {
					return pretrainResult(c, out, res, figs, func(bb string) string { return imageFineTuneHint(kind, cfg, bb) })
				},
			})
		},
	}
}

// plotImageReconstruction draws RUN/reconstruction.png from the run's
// checkpoint ckpt ("": its last): n held-out images, masked with a stream
// of the run's seed.
func plotImageReconstruction(out, ckpt string, cfg pretrain.ImageConfig, data *pretrain.ImageCorpus, n int) (string, error) {
	if ckpt == "" {
		ckpt = filepath.Join(out, train.LastFile)
	}
	m, err := pretrain.LoadImageModel(cfg, ckpt)
	if err != nil {
		return "", err
	}
	recs, err := pretrain.ReconstructImages(m, data, n, cfg.Train.Seed)
	if err != nil {
		return "", err
	}
	rows := make([][4]*images.Image, len(recs))
	for i, r := range recs {
		rows[i] = [4]*images.Image{r.Original, r.Masked, r.Rebuilt, r.Pasted}
	}
	p := filepath.Join(out, reconstructionFigure)
	title := fmt.Sprintf("MAE reconstructions of held-out %s images (%.0f%% of the patches masked)", data.Name, 100*cfg.Model.MaskRatio)
	return p, plot.ReconstructionImages(p, title, rows)
}

// imageFineTuneHint is the pcx train command that fine-tunes from the run's
// backbone: the kind's, with --data, --preset and --image-size where the
// run's differ from pcx train's defaults.
func imageFineTuneHint(kind string, cfg pretrain.ImageConfig, bb string) string {
	args := []string{"pcx", "train", kind}
	k, _ := presets.LookupImageDataKind(kind)
	if cfg.Data != k.Data {
		args = append(args, "--data", shellQuote(cfg.Data))
	}
	args = append(args, "--ckpt", shellQuote(bb))
	preset, size := k.Preset, k.ImageSize
	if p, err := presets.LookupImagePretrainModel(cfg.Preset); err == nil && p.Encoder != k.Preset {
		preset, size = p.Encoder, 0
		args = append(args, "--preset", preset)
	}
	if size == 0 {
		if m, err := presets.LookupImageModel(preset); err == nil {
			size = m.ImageSize
		}
	}
	if cfg.Model.ImageSize != size {
		args = append(args, "--image-size", fmt.Sprint(cfg.Model.ImageSize))
	}
	return strings.Join(args, " ")
}
