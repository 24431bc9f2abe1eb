package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets/imagesets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"github.com/pcx-dev/pcx/vision"
	"github.com/urfave/cli/v2"
)

// imageMethodList names the image methods for help texts.
func imageMethodList() string { return strings.Join(presets.ImageMethodNames(), ", ") }

// imageTrainFlags are the flags of pcx train's image kinds.
func imageTrainFlags(k presets.ImageDataKind, t train.Config) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Value: k.Data, Usage: "data set folder"},
		&cli.StringFlag{Name: "task", Usage: "vtab: the VTAB-1K task (a folder of --data; pcx vtab runs all 19)"},
		&cli.BoolFlag{Name: "val", Usage: "vtab: train on train800 and test on val200 (default: train800val200 and test, the paper's protocol)"},
		&cli.StringFlag{Name: "method", Value: "adaptformer-x", Usage: imageMethodList()},
		&cli.StringFlag{Name: "preset", Aliases: []string{"model"}, Value: k.Preset, Usage: "ViT preset (see pcx presets)"},
		&cli.IntFlag{Name: "image-size", Value: k.ImageSize, Usage: "input size (0: the preset's); pretrained position embeddings are resampled to it"},
		&cli.StringFlag{Name: "ckpt", Usage: "pretrained ViT weights: Google's ViT-B_16.npz, a timm or MAE .pth, or a .safetensors"},
		&cli.BoolFlag{Name: "partial-load", Usage: "train from a --ckpt that lacks some of the backbone's weights (they start random)"},
		&cli.StringFlag{Name: "config", Usage: "an image run's config.yaml; flags override it"},
		&cli.StringFlag{Name: "normalize", Value: "imagenet", Usage: "imagenet (NOAH: ImageNet mean and std) or none"},
		&cli.BoolFlag{Name: "augment", Usage: "random resized crops and flips in training (off for VTAB)"},
		&cli.IntFlag{Name: "train-subset", Usage: "train on this many training images picked by the seed (1000: VTAB-1K's size)"},
		&cli.Float64Flag{Name: "test-fraction", Usage: "images: the share of each class tested when the folder has no train/test split (0: 0.2)"},
		&cli.IntFlag{Name: "rank", Usage: "adapter rank (0: the method's: adapter 8, the others 64)"},
		&cli.BoolFlag{Name: "smoa-only", Usage: "-x methods: the SMoA without the block-specific design (Table 3a)"},
		&cli.BoolFlag{Name: "no-sharing", Usage: "-x methods: one SMoA per block (Table 3a's block-specific only)"},
		&cli.IntFlag{Name: "epochs", Value: t.Epochs, Usage: "training epochs"},
		&cli.IntFlag{Name: "batch", Value: t.BatchSize, Usage: "training batch size"},
		&cli.Float64Flag{Name: "lr", Value: t.LR, Usage: "peak learning rate of AdamW"},
		&cli.Float64Flag{Name: "weight-decay", Value: t.WeightDecay, Usage: "AdamW weight decay"},
		&cli.IntFlag{Name: "warmup", Value: t.WarmupEpochs, Usage: "warm-up epochs"},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of initialisation, data order, subsets, augmentation and dropout"},
		&cli.IntFlag{Name: "workers", Value: 2, Usage: "data loader goroutines"},
		&cli.StringFlag{Name: "out", Usage: "run directory (default runs/KIND-METHOD, runs/vtab-TASK-METHOD)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last checkpoint"},
		&cli.BoolFlag{Name: "overwrite", Usage: "start a new run in --out even if it holds one, removing that run's files"},
		&cli.BoolFlag{Name: "plots", Value: true, Usage: "draw the run's figures at the end (curves, routing, t-SNE)"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON at the end"},
		deviceFlag,
		distFlag, shardsFlag, deterministicFlag,
	}
}

// imageSettingFlags are the flags a resumed image run refuses.
var imageSettingFlags = []string{"data", "task", "val", "method", "preset", "image-size", "ckpt", "partial-load", "config",
	"normalize", "augment", "train-subset", "test-fraction", "rank", "smoa-only", "no-sharing", "epochs", "batch", "lr",
	"weight-decay", "warmup", "seed"}

// imageConfig resolves an image run's configuration: the kind's defaults,
// then --config, then the flags given.
func imageConfig(c *cli.Context, k presets.ImageDataKind) (vision.Config, error) {
	var cfg vision.Config
	if p := c.String("config"); p != "" {
		var err error
		if cfg, err = vision.ReadConfigFile(p); err != nil {
			return cfg, err
		}
		if cfg.Kind != k.Name {
			return cfg, fmt.Errorf("%s is a %s run's configuration, not %s's", p, cfg.Kind, k.Name)
		}
	} else {
		s, err := presets.LookupSchedule(k.Schedule)
		if err != nil {
			return cfg, err
		}
		cfg = vision.Config{Version: 1, Kind: k.Name, Data: k.Data, Normalize: "imagenet", Train: s.Train}
		if cfg.Model, err = vision.ResolveModel(c.String("preset"), c.String("method"), 0, c.Int("image-size")); err != nil {
			return cfg, err
		}
	}
	if c.IsSet("preset") || c.IsSet("method") || c.IsSet("image-size") {
		m, err := vision.ResolveModel(c.String("preset"), c.String("method"), 0, c.Int("image-size"))
		if err != nil {
			return cfg, err
		}
		cfg.Model = m
	}
	applyScheduleFlags(c, &cfg.Train)
	applySetters(c, []flagSetter{
		{"data", func() { cfg.Data = c.String("data") }},
		{"task", func() { cfg.Task = c.String("task") }},
		{"val", func() { cfg.Val = c.Bool("val") }},
		{"ckpt", func() { cfg.Ckpt = c.String("ckpt") }},
		{"partial-load", func() { cfg.PartialLoad = c.Bool("partial-load") }},
		{"normalize", func() { cfg.Normalize = c.String("normalize") }},
		{"augment", func() { cfg.Augment = c.Bool("augment") }},
		{"train-subset", func() { cfg.TrainSubset = c.Int("train-subset") }},
		{"test-fraction", func() { cfg.TestFraction = c.Float64("test-fraction") }},
		{"rank", func() { cfg.Model.Rank = c.Int("rank") }},
		{"smoa-only", func() { cfg.Model.SMoAOnly = c.Bool("smoa-only") }},
		{"no-sharing", func() { cfg.Model.NoSharing = c.Bool("no-sharing") }},
	})
	if cfg.Data == "" {
		return cfg, fmt.Errorf("pcx train %s needs --data DIR", k.Name)
	}
	if (cfg.Model.SMoAOnly || cfg.Model.NoSharing) && !strings.HasSuffix(cfg.Model.Method, "-x") {
		return cfg, fmt.Errorf("--smoa-only and --no-sharing apply to adapter-x and adaptformer-x, not %s", cfg.Model.Method)
	}
	if cfg.Model.SMoAOnly && cfg.Model.NoSharing {
		return cfg, fmt.Errorf("--smoa-only and --no-sharing are different ablations: give one")
	}
	return cfg, nil
}

// imageRunDir is the run directory of an image run without --out.
func imageRunDir(cfg vision.Config) string {
	name := cfg.Kind
	if cfg.Task != "" {
		name += "-" + cfg.Task
	}
	return filepath.Join("runs", name+"-"+cfg.Model.Method)
}

func imageTrainSubcommand(k presets.ImageDataKind) *cli.Command {
	s, err := presets.LookupSchedule(k.Schedule)
	if err != nil {
		panic(err) // the registry names a schedule it lacks
	}
	example := "pcx train " + k.Name + " --data DIR --method adaptformer-x"
	switch k.Name {
	case "vtab":
		example = "pcx train vtab --data vtab-1k --task cifar --ckpt ViT-B_16.npz --method adaptformer-x"
	case "fashion-mnist":
		example = "pcx train fashion-mnist --train-subset 1000 --method adapter-x"
	}
	return &cli.Command{
		Name:  k.Name,
		Usage: k.Summary + " (ViT, preset " + k.Preset + ")",
		Description: `Trains a ViT with an image method (` + imageMethodList() + `), evaluates on the test
split after every epoch and writes the run directory as pcx train does for point clouds:
config.yaml, metrics.jsonl and metrics.csv, last.safetensors and best.safetensors.
Images are resized to the model's size with Pillow's bicubic filter and normalised with
ImageNet's mean and std, as NOAH does for VTAB-1K.

Example:
   ` + example,
		Flags: imageTrainFlags(k, s.Train),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("pcx train %s takes no arguments (got %q); the data set is --data DIR", k.Name, c.Args().First())
			}
			if c.Bool("resume") && c.Bool("overwrite") {
				return fmt.Errorf("--resume continues the run in --out and --overwrite replaces it: give one of them")
			}
			if err := checkDeviceName(c.String("device")); err != nil {
				return err
			}
			out := c.String("out")
			var cfg vision.Config
			var err error
			if c.Bool("resume") {
				if out == "" {
					return fmt.Errorf("--resume needs the run directory, --out RUN")
				}
				if err := checkResume(out, classify.ConfigFile, flagsSet(c, imageSettingFlags)); err != nil {
					return err
				}
				if cfg, err = vision.ReadConfigFile(filepath.Join(out, classify.ConfigFile)); err != nil {
					return err
				}
				resumeShards(c, &cfg.Train)
				if runComplete(out) {
					return nil
				}
			} else if cfg, err = imageConfig(c, k); err != nil {
				return err
			}
			if out == "" {
				out = imageRunDir(cfg)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			return executeImageRun(c, cfg, out)
		},
	}
}

// executeImageRun trains an image run whose configuration is checked.
func executeImageRun(c *cli.Context, cfg vision.Config, out string) error {
	var data *imagesets.Dataset
	return executeRun(c, runSpec{out: out, config: classify.ConfigFile,
		resumeCmd: func() string { return "pcx train " + cfg.Kind + " --resume --out " + shellQuote(out) },
		load: func() (int, error) {
			var err error
			if data, err = vision.LoadData(cfg); err != nil {
				return 0, err
			}
			return len(data.Classes), nil
		},
		run: func(ctx context.Context, classes int, log io.Writer, eng nn.Device, par train.Parallel) (*train.Result, error) {
			if cfg.Model.Classes != classes {
				m := cfg.Model
				r, err := vision.ResolveModel(m.Preset, m.Method, classes, m.ImageSize)
				if err != nil {
					return nil, err
				}
				r.Rank, r.SMoAOnly, r.NoSharing = m.Rank, m.SMoAOnly, m.NoSharing
				cfg.Model = r
			}
			return vision.Train(ctx, cfg, data, out, vision.RunOptions{Resume: c.Bool("resume"), Log: log, Progress: os.Stderr, Device: eng, Parallel: par})
		},
		plots: func() ([]string, error) { return plotImageRun(out, data) },
	})
}

// plotImageRun draws an image run's figures: curves, and from its best
// checkpoint the routing (for the -x methods) and a t-SNE of the features.
func plotImageRun(dir string, data *imagesets.Dataset) ([]string, error) {
	p, err := plotCurves(dir)
	if err != nil {
		return nil, err
	}
	out := []string{p}
	tr, err := vision.LoadCheckpoint(filepath.Join(dir, train.BestFile))
	if err != nil {
		return out, err
	}
	if len(tr.Model.Net.SMoA) > 0 {
		ps, err := plotImageRouting(dir, tr, data, "cls")
		out = append(out, ps...)
		if err != nil {
			return out, err
		}
	}
	p, err = plotImageTSNE(dir, tr, data, 30, 1000)
	if err != nil {
		return out, err
	}
	return append(out, p), nil
}

func plotImageRouting(dir string, tr *vision.Trained, data *imagesets.Dataset, token string) ([]string, error) {
	r, err := vision.RoutingOf(context.Background(), tr, data, token, 64, 2)
	if err != nil {
		return nil, err
	}
	return drawRouting(dir, r, data.Name, data.Classes)
}

// tsneSamples is how many test images an image run's t-SNE shows at most
// (evenly spaced over the test split): t-SNE of VTAB's or Fashion-MNIST's
// 10,000 test images would take minutes and draw a blot.
const tsneSamples = 2000

func plotImageTSNE(dir string, tr *vision.Trained, data *imagesets.Dataset, perplexity float64, iters int) (string, error) {
	feats, labels, err := vision.Features(context.Background(), tr, data, tsneSamples, 64, 2)
	if err != nil {
		return "", err
	}
	return drawTSNE(dir, feats, labels, data.Classes, tr.Config.Model.Method, data.Name, perplexity, iters)
}

// imageRun reports whether dir holds an image run (its config.yaml says
// so), and loads its checkpoint and data when it does.
func imageRun(dir, ckpt string) (*vision.Trained, *imagesets.Dataset, bool, error) {
	cfg, err := vision.ReadConfigFile(filepath.Join(dir, classify.ConfigFile))
	if err != nil || cfg.Kind == "" {
		return nil, nil, false, nil
	}
	if ckpt == "" {
		ckpt = filepath.Join(dir, train.BestFile)
	}
	tr, err := vision.LoadCheckpoint(ckpt)
	if err != nil {
		return nil, nil, true, err
	}
	data, err := vision.LoadData(tr.Config)
	return tr, data, true, err
}

// evalImages is pcx eval of an image checkpoint: its own data set, or
// DATASET (a directory of the same kind) or --data.
func evalImages(c *cli.Context, ckpt, predOut string) error {
	if c.Bool("vote") {
		return fmt.Errorf("--vote is Point-MAE's test-time augmentation of point clouds; an image model is evaluated in one pass")
	}
	tr, err := vision.LoadCheckpoint(ckpt)
	if err != nil {
		return err
	}
	cfg := tr.Config
	if d := c.String("data"); d != "" {
		cfg.Data = d
	} else if a := c.Args().First(); a != "" {
		cfg.Data = a
	}
	data, err := vision.LoadData(cfg)
	if err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	rep, err := vision.Evaluate(ctx, tr, data, vision.EvalOptions{Batch: c.Int("batch"), Progress: c.App.ErrWriter})
	if err == nil && predOut != "" {
		err = writePredictions(ctx, predOut, data.Classes, rep.Predictions)
	}
	if err != nil {
		if ctx.Err() != nil {
			return exitError{130, errors.New("evaluation interrupted; nothing was written")}
		}
		return err
	}
	if c.Bool("json") {
		return writeJSON(os.Stdout, rep)
	}
	printEvalReport(tr.Path, data.Name, data.Classes, rep, false)
	return nil
}

// predictImages is pcx predict with an image checkpoint.
func predictImages(c *cli.Context, ckpt string, files []string) error {
	tr, err := vision.LoadCheckpoint(ckpt)
	if err != nil {
		return err
	}
	preds, err := vision.Predict(tr, files, c.Int("top"))
	if preds == nil {
		return err
	}
	if perr := printPredictions(c, preds); perr != nil {
		return perr
	}
	return err
}
