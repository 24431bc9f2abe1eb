package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/urfave/cli/v2"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "evaluate a trained checkpoint on a data set's test split, with Point-MAE's voting if asked",
		ArgsUsage: "[DATASET]",
		Description: `DATASET defaults to the one the checkpoint was trained on. It may be a spec (synth,
scanobjectnn:DIR, modelnet40:DIR, a folder) or a kind alone (modelnet40), which takes its folder
from --data or, when the checkpoint was trained on that kind, from the checkpoint.
Prints the single-pass accuracy (FPS to the model's points, no augmentation), the mean class
accuracy, the per-class table and the confusion matrix. --vote adds Point-MAE's voting: per sample
--votes views (FPS to 1200 points for a 1024-point model, a random subset, ScaleAndTranslate) whose
logits are averaged. Voting is random, so the whole voting pass is repeated --repeats times and
reported as mean ± std; Point-MAE reports the maximum over 300 repeats, printed only with --max.
--predictions FILE writes each test sample's single-pass outcome: its index in the test split,
true class, predicted class and the logits of every class (in the data set's class order), as
CSV (.csv: index,label,prediction,logit_CLASS...) or JSON lines (.jsonl); an existing FILE is
replaced only with --overwrite.

Example:
   pcx eval --ckpt runs/synth-dapt-x/best.safetensors --vote
   pcx eval modelnet40 --ckpt runs/modelnet40-dapt-x/best.safetensors --vote
   pcx eval modelnet40:modelnet40_normal_resampled --ckpt best.safetensors --vote --votes 10 --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ckpt", Required: true, Usage: "a pcx training checkpoint (RUN/best.safetensors)"},
			&cli.StringFlag{Name: "data", Usage: "data set folder, with DATASET naming its kind"},
			&cli.StringFlag{Name: "variant", Usage: "data set variant (default: the checkpoint's)"},
			&cli.BoolFlag{Name: "vote", Usage: "add voting"},
			&cli.IntFlag{Name: "votes", Value: 10, Usage: "views per sample"},
			&cli.IntFlag{Name: "repeats", Value: 3, Usage: "voting passes"},
			&cli.BoolFlag{Name: "max", Usage: "also print the best voting pass (what Point-MAE reports)"},
			&cli.IntFlag{Name: "batch", Value: 64},
			&cli.Uint64Flag{Name: "seed", Value: 0},
			deviceFlag,
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
			&cli.StringFlag{Name: "predictions", Usage: "write per-sample predictions and logits to this .csv or .jsonl file"},
			overwriteFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return fmt.Errorf("eval takes at most one data set, got %d arguments", c.NArg())
			}
			for _, f := range []string{"votes", "repeats", "batch"} {
				if _, err := intAtLeast(c, f, 1); err != nil {
					return err
				}
			}
			predOut := c.String("predictions")
			if predOut != "" {
				if _, err := predictionFormat(predOut); err != nil {
					return err
				}
				if err := checkNewFile(predOut, c.Bool("overwrite")); err != nil {
					return err
				}
			}
			tr, err := classify.LoadCheckpoint(c.String("ckpt"))
			if err != nil {
				return err
			}
			cfg := tr.Config
			if c.NArg() == 1 || c.IsSet("data") {
				if cfg.Data, err = evalSpec(c.Args().First(), c.String("data"), tr.Config.Data); err != nil {
					return err
				}
			}
			if c.IsSet("variant") {
				cfg.Variant = c.String("variant")
			}
			data, err := classify.LoadData(cfg)
			if err != nil {
				return err
			}
			_, eng, closeDev, err := openDevice(c, os.Stderr)
			if err != nil {
				return err
			}
			defer closeDev()
			ctx, stop := interruptContext()
			defer stop()
			rep, err := classify.Evaluate(ctx, tr, data, classify.EvalOptions{Vote: c.Bool("vote"), Votes: c.Int("votes"),
				Repeats: c.Int("repeats"), Batch: c.Int("batch"), Seed: c.Uint64("seed"), Device: eng})
			if err != nil {
				return err
			}
			if predOut != "" {
				if err := writePredictions(ctx, predOut, data.Classes, rep.Predictions); err != nil {
					return err
				}
			}
			if c.Bool("json") {
				if !c.Bool("max") && rep.Vote != nil {
					rep.Vote.Max = 0
				}
				return writeJSON(os.Stdout, rep)
			}
			fmt.Printf("%s on %s (%d test samples)\n", c.String("ckpt"), data.Name, rep.Samples)
			fmt.Printf("accuracy %.4f (single pass), mean class accuracy %.4f\n", rep.Acc, rep.MeanClassAcc)
			if v := rep.Vote; v != nil {
				fmt.Printf("voting (%d views, %d passes): %.4f ± %.4f", v.Votes, v.Repeats, v.Mean, v.Std)
				if c.Bool("max") {
					fmt.Printf(", best pass %.4f (the number Point-MAE reports)", v.Max)
				}
				fmt.Println()
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "class\tcorrect\ttotal\taccuracy\t")
			for _, pc := range rep.PerClass {
				fmt.Fprintf(w, "%s\t%d\t%d\t%.4f\t\n", pc.Name, pc.Correct, pc.Total, pc.Acc)
			}
			w.Flush()
			fmt.Println("confusion matrix (rows: true class, columns: predicted, in the order above)")
			for i, row := range rep.Confusion {
				var b strings.Builder
				for _, v := range row {
					fmt.Fprintf(&b, "%4d", v)
				}
				fmt.Printf("%-12.12s%s\n", data.Classes[i], b.String())
			}
			return nil
		},
	}
}

func predictCommand() *cli.Command {
	return &cli.Command{
		Name:      "predict",
		Usage:     "classify point-cloud or mesh files with a trained checkpoint",
		ArgsUsage: "FILE...",
		Description: `Files in any format pcx reads (PLY, OFF, STL, OBJ, XYZ/TXT/CSV, NPY). Meshes are sampled on
their surface (--mesh-points); each cloud is normalised into the unit sphere when the training
data was (every data set but ScanObjectNN; --normalize overrides) and reduced to the model's number of points by FPS, as at test time. The
model's point count must match the density it was trained on.

Prints each file's top classes with their probabilities; --json adds each one's logit (the
model's raw score, before the softmax over every class). A checkpoint whose outputs are not
finite (NaN weights from a diverged run) is an error.

Example:
   pcx predict --ckpt runs/synth-dapt-x/best.safetensors chair.off table.ply --top 3`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ckpt", Required: true},
			&cli.IntFlag{Name: "top", Value: 5, Usage: "classes per file (0: every class)"},
			&cli.IntFlag{Name: "mesh-points", Value: 8192, Usage: "points sampled from a mesh's surface before FPS"},
			&cli.BoolFlag{Name: "normalize", Usage: "centre and scale into the unit sphere (default: as the training data was; ScanObjectNN was not)"},
			deviceFlag,
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("predict needs at least one file")
			}
			if _, err := intAtLeast(c, "top", 0); err != nil {
				return err
			}
			if _, err := intAtLeast(c, "mesh-points", 1); err != nil {
				return err
			}
			tr, err := classify.LoadCheckpoint(c.String("ckpt"))
			if err != nil {
				return err
			}
			_, eng, closeDev, err := openDevice(c, os.Stderr)
			if err != nil {
				return err
			}
			defer closeDev()
			preds, err := classify.Predict(tr, c.Args().Slice(), classify.PredictOptions{TopK: c.Int("top"),
				MeshPoints: c.Int("mesh-points"), Normalize: normalizeFor(c, tr.Config.Data), Device: eng})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(os.Stdout, preds)
			}
			for _, p := range preds {
				fmt.Print(p.File, ":")
				for i, cl := range p.Classes {
					fmt.Printf("  %s %.3f", cl, p.Probs[i])
				}
				fmt.Println()
			}
			return nil
		},
	}
}

// evalSpec resolves eval's data set: arg is a spec or a kind alone (which
// takes its folder from data, or from the checkpoint's spec of that kind).
func evalSpec(arg, data, trained string) (string, error) {
	if arg == "" {
		arg, _ = datasets.ParseSpec(trained)
		if arg == "" {
			return "", fmt.Errorf("--data needs DATASET to name its kind (%s)", strings.Join(datasets.Kinds(), ", "))
		}
	}
	if !slices.Contains(datasets.Kinds(), arg) || arg == datasets.KindSynth {
		if data != "" {
			return "", fmt.Errorf("--data goes with a kind (%s), not with %q", strings.Join(datasets.Kinds(), ", "), arg)
		}
		return arg, nil
	}
	if data != "" {
		return arg + ":" + data, nil
	}
	if kind, path := datasets.ParseSpec(trained); kind == arg && path != "" {
		return trained, nil
	}
	return "", fmt.Errorf("%s: give its folder with --data (the checkpoint was trained on %s)", arg, trained)
}

// normalizeFor says whether predict normalises its clouds: as --normalize
// says when given, else as the checkpoint's training data was (every kind
// but ScanObjectNN comes normalised into the unit sphere).
func normalizeFor(c *cli.Context, trainedOn string) bool {
	if c.IsSet("normalize") {
		return c.Bool("normalize")
	}
	kind, _ := datasets.ParseSpec(trainedOn)
	return kind != datasets.KindScanObjectNN
}

// predictionFormat is the format of a --predictions file, by extension.
func predictionFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv", ".jsonl":
		return ext, nil
	}
	return "", fmt.Errorf("--predictions %s: give a .csv or .jsonl file", path)
}

// writePredictions writes per-sample predictions as CSV or JSON lines,
// atomically; an interruption (ctx) leaves no partial file.
func writePredictions(ctx context.Context, path string, classes []string, preds []classify.SamplePrediction) error {
	format, err := predictionFormat(path)
	if err != nil {
		return err
	}
	err = atomicfile.WriteContext(ctx, path, func(w io.Writer) error {
		if format == ".jsonl" {
			enc := json.NewEncoder(w)
			for _, p := range preds {
				if err := enc.Encode(p); err != nil {
					return err
				}
			}
			return nil
		}
		cw := csv.NewWriter(w)
		head := []string{"index", "label", "prediction"}
		for _, name := range classes {
			head = append(head, "logit_"+name)
		}
		if err := cw.Write(head); err != nil {
			return err
		}
		row := make([]string, len(head))
		for _, p := range preds {
			row = append(row[:0], strconv.Itoa(p.Index), p.Label, p.Pred)
			for _, v := range p.Logits {
				row = append(row, strconv.FormatFloat(float64(v), 'g', -1, 32))
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
