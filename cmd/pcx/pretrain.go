package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/pretrain"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

func pretrainCommand() *cli.Command {
	return &cli.Command{
		Name:        "pretrain",
		Usage:       "pretrain a backbone as a masked autoencoder: Point-MAE on point clouds (synth, shapenet, folder), MAE on images (images, fashion-mnist, cifar)",
		Subcommands: append([]*cli.Command{pretrainSynthCommand(), pretrainShapeNetCommand(), pretrainFolderCommand()}, pretrainImageCommands()...),
	}
}

// The point-cloud subcommands, one per pretrainKinds entry.
func pretrainSynthCommand() *cli.Command    { return pretrainPointsCommand(pretrainKinds[0]) }
func pretrainShapeNetCommand() *cli.Command { return pretrainPointsCommand(pretrainKinds[1]) }
func pretrainFolderCommand() *cli.Command   { return pretrainPointsCommand(pretrainKinds[2]) }

// pretrainKind is one point-cloud data set pcx pretrain takes: a
// subcommand of pretrainPointsCommand.
type pretrainKind struct {
	name, usage, about, example string
	// preset is the pretraining preset it defaults to.
	preset string
	// base is the configuration without flags: data is --data's value
	// ("" when not given).
	base func(data string) pretrain.Config
	// dataUsage is --data's usage; "" means the kind takes no --data.
	dataUsage string
	// pointsUsage is --data-points' usage.
	pointsUsage string
	// synth and holdOut say whether --samples-per-class and --hold-out
	// apply.
	synth, holdOut bool
}

// pretrainKinds are pcx pretrain's point-cloud subcommands.
var pretrainKinds = []pretrainKind{
	{
		name:   "synth",
		usage:  "pretrain on the built-in procedural data set's clouds (labels unused): minutes on a CPU",
		about:  "a corpus of synth's clean clouds other than those pcx train synth fine-tunes and\ntests on (data seed 1, 256 clouds per class).",
		preset: "synth", base: func(string) pretrain.Config { return pretrain.SynthConfig() },
		pointsUsage: "points per generated cloud (0: synth's 1024)",
		synth:       true,
		example: `   pcx pretrain synth --epochs 30 --out runs/synth-pretrain
   pcx train synth --ckpt runs/synth-pretrain/backbone.safetensors`,
	},
	{
		name:   "shapenet",
		usage:  "pretrain on ShapeNet-55 as Point-MAE lays it out (ShapeNet-55/{train,test}.txt, shapenet_pc/*.npy)",
		about:  "ShapeNet-55's training clouds, a random 1,024 of each file's 8,192 points normalised\ninto the unit sphere, as Point-MAE's pretraining reads them; test.txt's clouds are held out.",
		preset: "pointmae", base: func(data string) pretrain.Config { return pretrain.ShapeNetConfig(data) },
		dataUsage:   "the ShapeNet-55 root: the folder holding ShapeNet-55/ and shapenet_pc/ (Point-MAE's data/ShapeNet55-34)",
		pointsUsage: "points kept of each cloud, a random subset fixed per file (0: 1024, Point-MAE's)",
		example: `   pcx pretrain shapenet --data data/ShapeNet55-34 --out runs/shapenet-pretrain
   pcx train modelnet40 --data data/ModelNet --ckpt runs/shapenet-pretrain/backbone.safetensors`,
	},
	{
		name:   "folder",
		usage:  "pretrain on every point cloud and mesh under a folder, at any depth (no labels needed)",
		about:  "every file under --data that pcx reads (.ply .off .obj .stl .xyz .txt .npy ...),\nmeshes sampled and larger clouds cut to --data-points points, each normalised into the\nunit sphere; --hold-out of the files are held out. Files pcx cannot read and clouds with\nfewer points than the model takes are left out, and the run says which.",
		preset: "synth", base: func(data string) pretrain.Config { return pretrain.FolderConfig(data) },
		dataUsage:   "the folder of clouds and meshes",
		pointsUsage: "points per file: meshes are sampled to it, larger clouds cut to a random subset fixed per file",
		holdOut:     true,
		example: `   pcx pretrain folder --data /usr/share/meshes --out runs/meshes-pretrain
   pcx train synth --ckpt runs/meshes-pretrain/backbone.safetensors`,
	},
}

func pretrainFlags(k pretrainKind) []cli.Flag {
	m, t, err := pretrain.FromPreset(k.preset)
	if err != nil {
		panic(err) // a kind names a preset the table lacks
	}
	base := k.base("")
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "a pcx pretraining config.yaml (another run's); flags override it"},
		&cli.StringFlag{Name: "preset", Value: k.preset, Usage: "pretraining preset, the model and its schedule: " + strings.Join(presets.PretrainModelNames(), " or ") + " (pcx presets lists them)"},
	}
	if k.dataUsage != "" {
		flags = append(flags, &cli.StringFlag{Name: "data", Usage: k.dataUsage})
	}
	flags = append(flags, &cli.IntFlag{Name: "data-points", Value: base.DataPoints, Usage: k.pointsUsage},
		&cli.Uint64Flag{Name: "data-seed", Value: base.DataSeed, Usage: "seed of the data: synth's clouds, mesh sampling and cloud subsets, the held-out files"})
	if k.synth {
		flags = append(flags, &cli.IntFlag{Name: "samples-per-class", Value: base.SynthTrain, Usage: "synth clouds per class to pretrain on"})
	}
	if k.holdOut {
		flags = append(flags, &cli.Float64Flag{Name: "hold-out", Value: datasets.DefaultHoldOut, Usage: "share of the files held out as the test split (a negative value: none)"})
	}
	flags = append(flags,
		&cli.IntFlag{Name: "epochs", Value: t.Epochs, Usage: "training epochs"},
		&cli.IntFlag{Name: "batch", Value: t.BatchSize, Usage: "batch size (clouds per optimiser step)"},
		&cli.Float64Flag{Name: "lr", Value: t.LR, Usage: "peak learning rate of AdamW"},
		&cli.Float64Flag{Name: "mask-ratio", Value: m.MaskRatio, Usage: "share of each cloud's groups masked"},
		&cli.StringFlag{Name: "mask-type", Value: m.MaskType, Usage: "rand (groups at random) or block (the groups nearest a random centre)"},
		&cli.BoolFlag{Name: "test-loss", Usage: "evaluate the reconstruction loss on the test split every epoch"},
		&cli.StringFlag{Name: "init", Usage: "continue pretraining from this checkpoint's weights: Point-MAE's pretrain.pth, a pcx run's pretrain.pth or last.safetensors"},
		&cli.BoolFlag{Name: "half", Usage: "write backbone.safetensors in float16 (half the size; pcx's built-in backbones are such files)"},
	)
	flags = append(flags, probeFlags("Point-MAE's SVM validation; synth:hardest (the clouds pcx train synth --variant hardest uses; synth's default), synth (clean), modelnet40:PATH...")...)
	return append(flags,
		&cli.IntFlag{Name: "probe-shots", Value: base.ProbeShots, Usage: fmt.Sprintf("fit the probe's SVM on this many labelled clouds a class, mean of %d draws (0: the whole training split)", pretrain.ShotDraws)},
		&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of initialisation, data order, augmentation, masks and drop-path (a run repeats exactly)"},
		&cli.IntFlag{Name: "workers", Value: 2, Usage: "data loader goroutines"},
		&cli.StringFlag{Name: "out", Usage: "run directory (default runs/" + k.name + "-pretrain)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last checkpoint, with its own config.yaml"},
		&cli.BoolFlag{Name: "overwrite", Usage: "start a new run in --out even if it holds one, removing that run's files"},
		&cli.BoolFlag{Name: "plots", Value: true, Usage: "draw the run's loss curves and reconstructions at the end"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON at the end"},
		deviceFlag,
		distFlag, shardsFlag, deterministicFlag,
	)
}

// pretrainSettings are the flags that change a pretraining run's settings.
var pretrainSettings = append([]string{"config", "preset", "data", "data-points", "data-seed", "samples-per-class", "hold-out",
	"epochs", "batch", "lr", "mask-ratio", "mask-type", "test-loss", "init", "seed", "probe-shots"}, probeSettings...)

// pretrainConfig resolves a run's configuration: the kind's, then
// --config, then --preset (the model and schedule), then the other flags
// given.
func pretrainConfig(c *cli.Context, k pretrainKind) (pretrain.Config, error) {
	cfg := k.base(c.String("data"))
	if p := c.String("config"); p != "" {
		var err error
		if cfg, err = pretrain.ReadConfig(p); err != nil {
			return cfg, err
		}
		if c.IsSet("data") {
			cfg.Data = k.base(c.String("data")).Data
		}
	}
	if c.IsSet("preset") {
		m, t, err := pretrain.FromPreset(c.String("preset"))
		if err != nil {
			return cfg, err
		}
		cfg.Model, cfg.Train = m, t
	}
	if k.dataUsage != "" && !c.IsSet("data") && c.String("config") == "" {
		return cfg, fmt.Errorf("pcx pretrain %s needs --data (%s)", k.name, k.dataUsage)
	}
	applyScheduleFlags(c, &cfg.Train)
	applySetters(c, []flagSetter{
		{"data-points", func() { cfg.DataPoints = c.Int("data-points") }},
		{"data-seed", func() { cfg.DataSeed = c.Uint64("data-seed") }},
		{"samples-per-class", func() { cfg.SynthTrain = c.Int("samples-per-class") }},
		{"hold-out", func() { cfg.HoldOut = c.Float64("hold-out") }},
		{"mask-ratio", func() { cfg.Model.MaskRatio = c.Float64("mask-ratio") }},
		{"mask-type", func() { cfg.Model.MaskType = c.String("mask-type") }},
		{"test-loss", func() { cfg.TestLoss = c.Bool("test-loss") }},
		{"init", func() { cfg.Init = c.String("init") }},
		{"probe-shots", func() { cfg.ProbeShots = c.Int("probe-shots") }},
	})
	if err := applyProbeFlags(c, func(spec string) { cfg.Probe, cfg.ProbeVariant = spec, "" },
		func() { cfg.Probe, cfg.ProbeVariant, cfg.ProbeEvery, cfg.ProbeShots = "", "", 0, 0 }); err != nil {
		return cfg, err
	}
	if c.IsSet("samples-per-class") && c.Int("samples-per-class") < 1 {
		return cfg, fmt.Errorf("--samples-per-class must be at least 1 (got %d)", c.Int("samples-per-class"))
	}
	return cfg, cfg.Validate()
}

// pretrainPointsCommand is the point-cloud pretraining subcommand of kind k.
func pretrainPointsCommand(k pretrainKind) *cli.Command {
	return &cli.Command{
		Name:  k.name,
		Usage: k.usage,
		Description: `Masks a share of each cloud's groups and trains Point-MAE's encoder and decoder to rebuild
them (Chamfer-L2 loss).
Data: ` + k.about + `
The preset ` + k.preset + ` is the default (--preset). The run directory holds config.yaml,
metrics.jsonl and metrics.csv, last.safetensors and best.safetensors (the whole model,
Point-MAE's pretrain.pth key names), and at the end backbone.safetensors: the encoder, for
pcx train --ckpt; pretrain.pth, the whole model in Point-MAE's own format; curves.png and
reconstruction.png (held-out clouds: input, visible groups, reconstruction). After each epoch a
linear SVM fitted on the encoder's frozen features of a labelled set (by default synth's
hardest variant, the clouds pcx train synth --variant hardest uses) measures their quality:
probe_svm_acc, as Point-MAE's SVM validation (--probe SPEC, --no-probe). Ctrl-C saves the
state; --resume continues exactly.

Example:
` + k.example,
		Flags: pretrainFlags(k),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("pcx pretrain %s takes no arguments (got %s)", k.name, state.Quote(c.Args().First()))
			}
			if c.Bool("resume") && c.Bool("overwrite") {
				return fmt.Errorf("--resume continues the run in --out and --overwrite replaces it: give one of them")
			}
			if err := checkDeviceName(c.String("device")); err != nil {
				return err
			}
			out := c.String("out")
			if out == "" {
				out = filepath.Join("runs", k.name+"-pretrain")
			}
			var cfg pretrain.Config
			var err error
			if c.Bool("resume") {
				if err := checkResume(out, pretrain.ConfigFile, flagsSet(c, pretrainSettings)); err != nil {
					return err
				}
				if cfg, err = pretrain.ReadConfig(filepath.Join(out, pretrain.ConfigFile)); err != nil {
					return err
				}
				resumeShards(c, &cfg.Train)
				if runComplete(out) {
					return nil
				}
			} else if cfg, err = pretrainConfig(c, k); err != nil {
				return err
			}
			var data, probeData *datasets.Dataset
			return executeRun(c, runSpec{out: out, config: pretrain.ConfigFile, files: []string{pretrain.BackboneFile, pretrain.OfficialFile, reconstructionFigure},
				resumeCmd: func() string { return pretrainResumeCommand(c, k, out) },
				load: func() (int, error) {
					var err error
					if data, err = pretrain.LoadData(cfg); err != nil {
						return 0, err
					}
					reportLeftOut(os.Stdout, data)
					probeData, err = pretrain.LoadProbeData(cfg)
					return 0, err
				},
				run: func(ctx context.Context, _ int, log io.Writer, eng nn.Device, par train.Parallel) (*train.Result, error) {
					return pretrain.Train(ctx, cfg, data, out, pretrain.Options{Resume: c.Bool("resume"), Log: log, Progress: os.Stderr, Device: eng, Parallel: par,
						Half: c.Bool("half"), ProbeData: probeData})
				},
				plots: func() ([]string, error) {
					return pretrainFigures(out, func() (string, error) { return plotReconstruction(out, "", data, reconstructionClouds) })
				},
				result: func(res *train.Result, figs []string) error {
					return pretrainResult(c, out, res, figs, func(bb string) string { return fineTuneHint(cfg, bb) })
				},
			})
		},
	}
}

// reportLeftOut says how many files the loader left out of data and why,
// the first few by name.
func reportLeftOut(w io.Writer, data *datasets.Dataset) {
	n := len(data.LeftOut)
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "left out %d file(s) of %s that pcx cannot read or that have too few points:\n", n, data.Name)
	for _, l := range data.LeftOut[:min(n, 5)] {
		fmt.Fprintf(w, "   %s\n", l)
	}
	if n > 5 {
		fmt.Fprintf(w, "   ... and %d more\n", n-5)
	}
}

// fineTuneHint is the command that fine-tunes the backbone bb of a run
// of cfg: pcx train synth for the synth preset's encoder, ScanObjectNN for
// any other (Point-MAE's).
func fineTuneHint(cfg pretrain.Config, bb string) string {
	if m, _, err := pretrain.FromPreset("synth"); err == nil && cfg.Model.TransDim == m.TransDim && cfg.Model.Depth == m.Depth &&
		cfg.Model.NumGroup == m.NumGroup && cfg.Model.GroupSize == m.GroupSize {
		return "pcx train synth --ckpt " + shellQuote(bb)
	}
	return "pcx train scanobjectnn --data DIR --ckpt " + shellQuote(bb)
}

// pretrainResumeCommand is the command line that continues the run in out.
func pretrainResumeCommand(c *cli.Context, k pretrainKind, out string) string {
	return resumeLine(c, []string{"pcx", "pretrain", k.name}, out, "device", "workers", "plots", "json", "half")
}

// pretrainFigures draws a pretraining run's figures: its curves and, by
// reconstruction, its reconstructions.
func pretrainFigures(out string, reconstruction func() (string, error)) ([]string, error) {
	p, err := plotCurves(out)
	if err != nil {
		return nil, err
	}
	r, err := reconstruction()
	if err != nil {
		return nil, err
	}
	return []string{p, r}, nil
}

// pretrainResult prints a finished pretraining run's result (JSON with
// --json): the best and last loss, the last probe, the figures, the
// backbone and hint(backbone), the command that fine-tunes it.
func pretrainResult(c *cli.Context, out string, res *train.Result, figs []string, hint func(bb string) string) error {
	bb := filepath.Join(out, pretrain.BackboneFile)
	if c.Bool("json") {
		return writeJSON(os.Stdout, newPretrainJSON(out, res, bb, figs))
	}
	fmt.Printf("best %s %.5f (epoch %d), last epoch %.5f\n", res.Metric, res.Best, res.BestEpoch, res.Last)
	if l := lastProbe(res).line(); l != "" {
		fmt.Println(l)
	}
	for _, f := range figs {
		fmt.Println("figure", f)
	}
	fmt.Printf("backbone %s\nfine-tune: %s\n", bb, hint(bb))
	return nil
}
