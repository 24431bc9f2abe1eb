package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/plot"
	"github.com/pcx-dev/pcx/pretrain"
	"github.com/pcx-dev/pcx/train"
	"github.com/pcx-dev/pcx/vision"
	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"
)

func plotCommand() *cli.Command {
	ckpt := &cli.StringFlag{Name: "ckpt", Usage: "checkpoint in the run (default RUN/best.safetensors)"}
	return &cli.Command{
		Name:  "plot",
		Usage: "figures of a run: training curves, DAPT-X routing per block, t-SNE of the features, pretraining reconstructions",
		Subcommands: []*cli.Command{
			{
				Name: "curves", Usage: "loss, learning rate and accuracy per epoch → RUN/curves.png", ArgsUsage: "RUN",
				Action: func(c *cli.Context) error {
					dir, err := runArg(c)
					if err != nil {
						return err
					}
					defer atomicfile.RemoveOnSignal()() // an interruption removes a figure's temporary file
					p, err := plotCurves(dir)
					if err == nil {
						fmt.Println("wrote", p)
					}
					return err
				},
			},
			{
				Name: "routing", ArgsUsage: "RUN",
				Usage: "DAPT-X: share of sub-tokens per shared expert and block over the test split, and one token's gates → RUN/routing.png, RUN/gates.png",
				Flags: []cli.Flag{ckpt, &cli.StringFlag{Name: "token", Value: "cls", Usage: "the token whose gates are drawn: cls or patch"}},
				Action: func(c *cli.Context) error {
					dir, err := runArg(c)
					if err != nil {
						return err
					}
					defer atomicfile.RemoveOnSignal()() // an interruption removes a figure's temporary file
					var ps []string
					if itr, idata, ok, err := imageRun(dir, c.String("ckpt")); ok {
						if err != nil {
							return err
						}
						ps, err = plotImageRouting(dir, itr, idata, c.String("token"))
						for _, p := range ps {
							fmt.Println("wrote", p)
						}
						return err
					}
					tr, data, err := loadRun(dir, c.String("ckpt"), nil)
					if err != nil {
						return err
					}
					ps, err = plotRouting(dir, tr, data, c.String("token"))
					for _, p := range ps {
						fmt.Println("wrote", p)
					}
					return err
				},
			},
			{
				Name: "reconstruction", ArgsUsage: "RUN",
				Usage: "a pretraining run: held-out clouds, their visible groups and the model's reconstruction → RUN/reconstruction.png",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "ckpt", Usage: "checkpoint in the run (default RUN/last.safetensors)"},
					&cli.IntFlag{Name: "clouds", Value: reconstructionClouds, Usage: "clouds (or images) drawn, the first of the test split (of the training split when there is none)"},
				},
				Action: func(c *cli.Context) error {
					dir, err := runArg(c)
					if err != nil {
						return err
					}
					n, err := intAtLeast(c, "clouds", 1)
					if err != nil {
						return err
					}
					if n > 16 {
						return fmt.Errorf("--clouds must be at most 16 (got %d)", n)
					}
					defer atomicfile.RemoveOnSignal()() // an interruption removes a figure's temporary file
					var p string
					if icfg, ierr := pretrain.ReadImageConfig(filepath.Join(dir, pretrain.ConfigFile)); ierr == nil {
						var data *pretrain.ImageCorpus
						if data, err = pretrain.LoadImages(icfg); err == nil {
							p, err = plotImageReconstruction(dir, c.String("ckpt"), icfg, data, n)
						}
					} else {
						p, err = plotReconstruction(dir, c.String("ckpt"), nil, n)
					}
					if err == nil {
						fmt.Println("wrote", p)
					}
					return err
				},
			},
			{
				Name: "tsne", ArgsUsage: "RUN", Usage: "t-SNE of the head's input features on the test split → RUN/tsne.png",
				Flags: []cli.Flag{ckpt, &cli.Float64Flag{Name: "perplexity", Value: 30, Usage: "t-SNE perplexity (effective neighbours per point)"}, &cli.IntFlag{Name: "iters", Value: 1000, Usage: "t-SNE iterations"}},
				Action: func(c *cli.Context) error {
					dir, err := runArg(c)
					if err != nil {
						return err
					}
					defer atomicfile.RemoveOnSignal()() // an interruption removes a figure's temporary file
					if _, err := intAtLeast(c, "iters", 1); err != nil {
						return err
					}
					if p := c.Float64("perplexity"); !(p > 0) || math.IsInf(p, 0) {
						return fmt.Errorf("--perplexity must be a positive number (got %v)", p)
					}
					var p string
					if itr, idata, ok, err := imageRun(dir, c.String("ckpt")); ok {
						if err != nil {
							return err
						}
						p, err = plotImageTSNE(dir, itr, idata, c.Float64("perplexity"), c.Int("iters"))
						if err == nil {
							fmt.Println("wrote", p)
						}
						return err
					}
					tr, data, err := loadRun(dir, c.String("ckpt"), nil)
					if err != nil {
						return err
					}
					p, err = plotTSNE(dir, tr, data, c.Float64("perplexity"), c.Int("iters"))
					if err == nil {
						fmt.Println("wrote", p)
					}
					return err
				},
			},
		},
	}
}

// reconstructionFigure is the figure of a pretraining run's
// reconstructions (point clouds or images), and reconstructionClouds the
// clouds it draws.
const (
	reconstructionFigure = "reconstruction.png"
	reconstructionClouds = 4
)

// plotReconstruction draws RUN/reconstruction.png: the first n clouds of
// the run's test split (its training split when the test split is empty)
// reconstructed by its pretraining model, from ckpt (default
// RUN/last.safetensors). data is the run's data set, or nil to load it
// from the run's config.yaml.
func plotReconstruction(dir, ckpt string, data *datasets.Dataset, n int) (string, error) {
	if ckpt == "" {
		ckpt = filepath.Join(dir, train.LastFile)
	}
	cfg, m, err := pretrain.LoadModel(dir, ckpt)
	if err != nil {
		return "", err
	}
	if data == nil {
		if data, err = pretrain.LoadData(cfg); err != nil {
			return "", err
		}
	}
	recs, err := pretrain.ReconstructSamples(m, data, n, 0)
	if err != nil {
		return "", err
	}
	clouds := make([]plot.PointReconstruction, len(recs))
	for i, r := range recs {
		clouds[i] = plot.PointReconstruction{Input: r.Input, Visible: r.Visible, Predicted: r.Predicted}
	}
	split := "held-out"
	if data.Test.Len() == 0 {
		split = "training"
	}
	title := fmt.Sprintf("run %s: %s clouds of %s, %d of %d groups masked (%s)", dir, split, data.Name,
		cfg.Model.Backbone().NumMask(), cfg.Model.NumGroup, filepath.Base(ckpt))
	out := filepath.Join(dir, reconstructionFigure)
	if err := plot.PointReconstructions(out, clouds, nil, title); err != nil {
		return "", err
	}
	return out, nil
}

func runArg(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("give one run directory")
	}
	dir := c.Args().First()
	if _, err := os.Stat(filepath.Join(dir, train.MetricsJSONL)); err != nil {
		return "", fmt.Errorf("%s is not a pcx run directory (no %s)", dir, train.MetricsJSONL)
	}
	return dir, nil
}

func plotCurves(dir string) (string, error) {
	ms, err := train.ReadMetrics(filepath.Join(dir, train.MetricsJSONL))
	if err != nil {
		return "", err
	}
	if len(ms) == 0 {
		return "", fmt.Errorf("%s: no epoch finished yet", dir)
	}
	series, cols := curveSeries(ms)
	out := filepath.Join(dir, "curves.png")
	last := ms[len(ms)-1]
	title := "run " + dir
	if cfg, err := vision.ReadConfigFile(filepath.Join(dir, classify.ConfigFile)); err == nil && cfg.Kind != "" {
		title += fmt.Sprintf(": %s on %s", cfg.Model.Method, cfg.Kind)
		if cfg.Task != "" {
			title += " (" + cfg.Task + ")"
		}
	} else if cfg, err := pretrain.ReadImageConfig(filepath.Join(dir, pretrain.ConfigFile)); err == nil {
		title += fmt.Sprintf(": MAE pretraining (%s) on %s", cfg.Preset, cfg.Kind)
	} else if cfg, err := pretrain.ReadConfig(filepath.Join(dir, pretrain.ConfigFile)); err == nil {
		title += ": Point-MAE pretraining on " + cfg.Data
		if cfg.Variant != "" {
			title += " (" + cfg.Variant + ")"
		}
	} else if cfg, err := classify.ReadRunConfig(dir); err == nil {
		title += fmt.Sprintf(": %s on %s", cfg.Model.Method, cfg.Data)
		if cfg.Variant != "" {
			title += " (" + cfg.Variant + ")"
		}
	}
	var best *plot.Mark
	if col := bestColumn(dir, last); last.BestEpoch > 0 && col != "" {
		if sr, ok := cols[col]; ok {
			_, m, _ := strings.Cut(col, "_")
			best = &plot.Mark{X: float64(last.BestEpoch), Panel: sr.Panel, Series: sr.Name,
				Label: fmt.Sprintf("best %s %.4f (epoch %d)", sr.Name, metric(last, "best_"+m), last.BestEpoch)}
		}
	}
	return out, plot.Curves(out, series, plot.CurvesOptions{Title: title, Mark: best})
}

// curveSeries are the curves of a run's epochs: the losses, the
// accuracies, each probe metric (probe_svm_acc: the panel "probe") and the
// learning rate; a column no epoch has is left out, and an epoch without
// a column's value (one not probed) is a gap in its curve. cols maps each
// column drawn to its series.
func curveSeries(ms []train.EpochMetrics) ([]plot.Series, map[string]plot.Series) {
	ep := make([]float64, len(ms))
	lr := make([]float64, len(ms))
	for i, m := range ms {
		ep[i], lr[i] = float64(m.Epoch), m.LR
	}
	var series []plot.Series
	cols := map[string]plot.Series{}
	add := func(col, name, panel string) {
		ys := make([]float64, len(ms))
		any := false
		for i, m := range ms {
			v, ok := m.Get(col)
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				v = math.NaN()
			} else {
				any = true
			}
			ys[i] = v
		}
		if any {
			sr := plot.Series{Name: name, X: ep, Y: ys, Panel: panel, XLabel: "epoch"}
			series = append(series, sr)
			cols[col] = sr
		}
	}
	add("train_loss", "train", "loss")
	add("test_loss", "test", "loss")
	add("train_acc", "train", "accuracy")
	add("test_acc", "test", "accuracy")
	var probes []string
	seen := map[string]bool{}
	for _, m := range ms {
		for _, v := range m.Values {
			if strings.HasPrefix(v.Name, train.ProbePrefix) && !seen[v.Name] {
				seen[v.Name] = true
				probes = append(probes, v.Name)
			}
		}
	}
	for _, col := range probes {
		add(col, strings.TrimPrefix(col, train.ProbePrefix), "probe")
	}
	sr := plot.Series{Name: "learning rate", X: ep, Y: lr, Panel: "learning rate", XLabel: "epoch"}
	series = append(series, sr)
	return series, cols
}

// bestColumn is the column that chose the run's best epoch: the train:
// best: of RUN/config.yaml, or by default the test accuracy, the test loss,
// the training accuracy or the training loss, the first the run has; ""
// when the run has no best_ value.
func bestColumn(dir string, last train.EpochMetrics) string {
	key := ""
	for _, v := range last.Values {
		if strings.HasPrefix(v.Name, "best_") {
			key = v.Name
		}
	}
	if key == "" {
		return ""
	}
	var cfg struct {
		Train struct {
			Best string `yaml:"best"`
		} `yaml:"train"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, classify.ConfigFile)); err == nil {
		_ = yaml.Unmarshal(data, &cfg) // another layout: the default below
	}
	if b := cfg.Train.Best; b != "" {
		return b
	}
	for _, col := range []string{"test_acc", "test_loss", "train_acc", "train_loss"} {
		if _, ok := last.Get(col); ok {
			return col
		}
	}
	return ""
}

// loadRun loads a run's checkpoint (RUN/best.safetensors unless ckpt is
// given) and, unless data is given, the data set it was trained on.
func loadRun(dir, ckpt string, data *datasets.Dataset) (*classify.Trained, *datasets.Dataset, error) {
	if ckpt == "" {
		ckpt = filepath.Join(dir, train.BestFile)
	}
	tr, err := loadCheckpoint(ckpt, os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	if data == nil {
		if data, err = classify.LoadData(tr.Config); err != nil {
			return nil, nil, err
		}
	}
	return tr, data, nil
}

func plotRouting(dir string, tr *classify.Trained, data *datasets.Dataset, token string) ([]string, error) {
	r, err := classify.RoutingOf(context.Background(), tr, data, token, 64, 2)
	if err != nil {
		return nil, err
	}
	return drawRouting(dir, r, data.Name, data.Classes)
}

// drawRouting draws an SMoA's routing into dir: the share of sub-tokens
// per expert and block (routing.png) and the followed token's gates
// (gates.png).
func drawRouting(dir string, r *adapters.Routing, dataName string, classes []string) ([]string, error) {
	a, b := filepath.Join(dir, "routing.png"), filepath.Join(dir, "gates.png")
	if err := plot.RoutingShares(a, r.Shares, "sub-tokens per shared expert, "+dataName+" test"); err != nil {
		return nil, err
	}
	if err := plot.GateHeatmap(b, r.Gates, r.GatesTitle(classes)); err != nil {
		return []string{a}, err
	}
	return []string{a, b}, nil
}

func plotTSNE(dir string, tr *classify.Trained, data *datasets.Dataset, perplexity float64, iters int) (string, error) {
	feats, labels, err := classify.Features(context.Background(), tr, data, 64, 2)
	if err != nil {
		return "", err
	}
	return drawTSNE(dir, feats, labels, data.Classes, tr.Config.Model.Method, data.Name, perplexity, iters)
}

// drawTSNE draws a t-SNE of features (one row per test sample) into
// dir/tsne.png.
func drawTSNE(dir string, feats [][]float32, labels []int, classes []string, method, dataName string, perplexity float64, iters int) (string, error) {
	xy, err := plot.TSNE(feats, perplexity, iters, 0)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "tsne.png")
	return out, plot.Scatter(out, xy, labels, classes, fmt.Sprintf("t-SNE of %s features, %s test", method, dataName))
}

// plotRun writes every figure of a finished run on data (the set it was
// trained on) and returns their paths.
func plotRun(dir string, data *datasets.Dataset) ([]string, error) {
	var out []string
	p, err := plotCurves(dir)
	if err != nil {
		return out, err
	}
	out = append(out, p)
	tr, data, err := loadRun(dir, "", data)
	if err != nil {
		return out, err
	}
	if tr.Model.DAPTX != nil {
		ps, err := plotRouting(dir, tr, data, "cls")
		out = append(out, ps...)
		if err != nil {
			return out, err
		}
	}
	p, err = plotTSNE(dir, tr, data, 30, 1000)
	if err != nil {
		return out, err
	}
	return append(out, p), nil
}

// metric is m's value named name, 0 when m has none (a line of an older
// or unusual run).
func metric(m train.EpochMetrics, name string) float64 {
	v, _ := m.Get(name)
	return v
}
