package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
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
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/train"
	"github.com/pcx-dev/pcx/vision"
	"github.com/urfave/cli/v2"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "evaluate a trained checkpoint on a data set's test split, with Point-MAE's voting if asked",
		ArgsUsage: "[DATASET]",
		Description: `DATASET defaults to the one the checkpoint was trained on. It may be a spec (synth,
synth:hardest, scanobjectnn:DIR, modelnet40:DIR, a folder) or a kind alone (modelnet40), which
takes its folder from --data or, when the checkpoint was trained on that kind, from the checkpoint.
What is named wins over the checkpoint: the kind, the folder and the variant (synth:VARIANT or
--variant); a variant not named is the checkpoint's for the kind it was trained on, else the
kind's default. A note on stderr says when the data differs from the training data.
--ckpt may also name a run directory, for its best.safetensors.
Prints the single-pass accuracy (FPS to the model's points, no augmentation), the mean class
accuracy, the per-class table and the confusion matrix. --vote adds Point-MAE's voting: per sample
--votes views (FPS to 1200 points for a 1024-point model, a random subset, ScaleAndTranslate) whose
logits are averaged. Voting is random, so the whole voting pass is repeated --repeats times and
reported as mean ± std; Point-MAE reports the maximum over 300 repeats, printed only with --max.
--predictions FILE writes each test sample's single-pass outcome: its index in the test split,
true class, predicted class and the logits of every class (in the data set's class order), as
CSV (.csv: index,label,prediction,logit_CLASS...) or JSON lines (.jsonl); an existing FILE is
replaced only with --overwrite. Ctrl-C stops the evaluation (exit status 130) and writes nothing.

Example:
   pcx eval --ckpt runs/synth-dapt-x/best.safetensors --vote
   pcx eval synth:hardest --ckpt runs/synth-dapt-x
   pcx eval modelnet40 --ckpt runs/modelnet40-dapt-x/best.safetensors --vote
   pcx eval modelnet40:modelnet40_normal_resampled --ckpt best.safetensors --vote --votes 10 --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ckpt", Required: true, Usage: "a pcx training checkpoint (RUN/best.safetensors, or RUN for it)"},
			&cli.StringFlag{Name: "data", Usage: "data set folder, with DATASET naming its kind"},
			&cli.StringFlag{Name: "variant", Usage: "data set variant (default: the one DATASET names, else the checkpoint's for its kind)"},
			&cli.BoolFlag{Name: "vote", Usage: "add voting"},
			&cli.IntFlag{Name: "votes", Value: 10, Usage: "views per sample"},
			&cli.IntFlag{Name: "repeats", Value: 3, Usage: "voting passes"},
			&cli.BoolFlag{Name: "max", Usage: "also print the best voting pass (what Point-MAE reports)"},
			&cli.IntFlag{Name: "batch", Value: 64, Usage: "clouds per evaluation batch"},
			&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of the test-time augmentation of --vote"},
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
			if ck, err := checkpointFile(c.String("ckpt"), io.Discard); err == nil && vision.IsCheckpoint(ck) {
				return evalImages(c, ck, predOut)
			}
			tr, err := loadCheckpoint(c.String("ckpt"), c.App.ErrWriter)
			if err != nil {
				return err
			}
			var variant *string
			if c.IsSet("variant") {
				v := c.String("variant")
				variant = &v
			}
			cfg, note, err := evalConfig(tr.Config, c.Args().First(), c.String("data"), variant)
			if err != nil {
				return err
			}
			if note != "" {
				fmt.Fprintln(c.App.ErrWriter, "pcx: note:", note)
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
				Repeats: c.Int("repeats"), Batch: c.Int("batch"), Seed: c.Uint64("seed"), Device: eng, Progress: c.App.ErrWriter})
			if err == nil && predOut != "" {
				err = writePredictions(ctx, predOut, data.Classes, rep.Predictions)
			}
			if err != nil {
				if ctx.Err() != nil {
					return exitError{130, errors.New("evaluation interrupted; nothing was written")} // after the deferred cleanups
				}
				return err
			}
			if c.Bool("json") {
				if !c.Bool("max") && rep.Vote != nil {
					rep.Vote.Max = 0
				}
				return writeJSON(os.Stdout, rep)
			}
			printEvalReport(tr.Path, data.Name, data.Classes, rep, c.Bool("max"))
			return nil
		},
	}
}

// printEvalReport prints an evaluation's accuracy, voting, per-class
// table and confusion matrix.
func printEvalReport(ckpt, dataName string, classes []string, rep *classify.EvalReport, showMax bool) {
	fmt.Printf("%s on %s (%d test samples)\n", ckpt, dataName, rep.Samples)
	fmt.Printf("accuracy %.4f (single pass), mean class accuracy %.4f\n", rep.Acc, rep.MeanClassAcc)
	if v := rep.Vote; v != nil {
		fmt.Printf("voting (%d views, %d passes): %.4f ± %.4f", v.Votes, v.Repeats, v.Mean, v.Std)
		if showMax {
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
		fmt.Printf("%-12.12s%s\n", classes[i], b.String())
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
A model only knows objects standing as in its training data, whose up axis the checkpoint
records (y for synth, ScanObjectNN and ModelNet40; taken as y when not recorded). --up names
the files' up axis (z for most CAD and scanner files) and turns them to the model's.

Prints each file's top classes with their probabilities; --json adds each one's logit (the
model's raw score, before the softmax over every class). A file that cannot be classified
(unreadable, too few points) is reported (on stderr, or as "error" in --json) and the others
are still classified; pcx then exits with status 1. A checkpoint whose outputs are not
finite (NaN weights from a diverged run) is an error. --ckpt may also name a run directory.

Example:
   pcx predict --ckpt runs/synth-dapt-x/best.safetensors chair.off table.ply --top 3
   pcx predict --ckpt runs/synth-dapt-x --up z boeing.off`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ckpt", Required: true, Usage: "a pcx training checkpoint (RUN/best.safetensors, or RUN for it)"},
			&cli.IntFlag{Name: "top", Value: 5, Usage: "classes per file (0: every class)"},
			&cli.IntFlag{Name: "mesh-points", Value: 8192, Usage: "points sampled from a mesh's surface before FPS"},
			&cli.BoolFlag{Name: "normalize", Usage: "centre and scale into the unit sphere (default: as the training data was; ScanObjectNN was not)"},
			&cli.StringFlag{Name: "up", Usage: "the files' up axis, x, y or z, turned to the training data's (default: the files stand as the training data did)"},
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
			up := c.String("up")
			if c.IsSet("up") {
				if _, err := pointcloud.ParseAxis(up); err != nil {
					return fmt.Errorf("--up: %w", err)
				}
			}
			files := c.Args().Slice()
			if ck, err := checkpointFile(c.String("ckpt"), io.Discard); err == nil && vision.IsCheckpoint(ck) {
				return predictImages(c, ck, files)
			}
			tr, err := loadCheckpoint(c.String("ckpt"), c.App.ErrWriter)
			if err != nil {
				return err
			}
			_, eng, closeDev, err := openDevice(c, os.Stderr)
			if err != nil {
				return err
			}
			defer closeDev()
			preds, err := classify.Predict(tr, files, classify.PredictOptions{TopK: c.Int("top"),
				MeshPoints: c.Int("mesh-points"), Normalize: normalizeFor(c, tr.Config.Data), Up: up, Device: eng})
			if preds == nil {
				return err
			}
			if perr := printPredictions(c, preds); perr != nil {
				return perr
			}
			return err
		},
	}
}

// printPredictions prints predictions (stderr for the files that could not
// be classified, --json as JSON) and returns an error counting those.
func printPredictions(c *cli.Context, preds []classify.Prediction) error {
	failed := 0
	for _, p := range preds {
		if p.Error != "" {
			failed++
		}
	}
	if c.Bool("json") {
		if jerr := writeJSON(os.Stdout, preds); jerr != nil {
			return jerr
		}
	} else {
		for _, p := range preds {
			if p.Error != "" {
				fmt.Fprintln(c.App.ErrWriter, "pcx:", p.Error)
				continue
			}
			fmt.Print(p.File, ":")
			for i, cl := range p.Classes {
				fmt.Printf("  %s %.3f", cl, p.Probs[i])
			}
			fmt.Println()
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be classified", failed, len(preds))
	}
	return nil
}

// loadCheckpoint loads a pcx training checkpoint for eval, predict and
// plot. A run directory stands for its best.safetensors, which is said on
// w.
func loadCheckpoint(path string, w io.Writer) (*classify.Trained, error) {
	path, err := checkpointFile(path, w)
	if err != nil {
		return nil, err
	}
	return classify.LoadCheckpoint(path)
}

// checkpointFile is --ckpt's file: path, or a run directory's
// best.safetensors (said on w).
func checkpointFile(path string, w io.Writer) (string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		best := filepath.Join(path, train.BestFile)
		if _, err := os.Stat(best); err != nil {
			return "", fmt.Errorf("--ckpt %s is a directory without a %s: give a checkpoint file", path, train.BestFile)
		}
		fmt.Fprintf(w, "pcx: %s is a directory; using its %s\n", path, train.BestFile)
		path = best
	}
	return path, nil
}

// evalConfig is the configuration eval runs: the checkpoint's (trained),
// with the data set the user named. arg is DATASET (a spec or a kind),
// data the --data folder and variant --variant (nil when not given). What
// is named wins; a variant not named is the checkpoint's when the data set
// is of the kind it was trained on, else the kind's default. note, when
// not empty, says how the data set differs from the training data.
func evalConfig(trained classify.Config, arg, data string, variant *string) (cfg classify.Config, note string, err error) {
	cfg = trained
	if arg != "" || data != "" {
		if cfg.Data, err = evalSpec(arg, data, trained.Data); err != nil {
			return cfg, "", err
		}
	}
	kind, path := datasets.ParseSpec(cfg.Data)
	if cfg.Data != trained.Data {
		switch {
		case kind == datasets.KindSynth && path != "":
			cfg.Variant = "" // the spec names it
		case specKind(cfg.Data) != specKind(trained.Data):
			cfg.Variant = ""
		default:
			cfg.Variant = variantOf(trained.Data, trained.Variant)
		}
	}
	if variant != nil {
		if kind == datasets.KindSynth && path != "" && !strings.EqualFold(path, *variant) && arg != "" {
			return cfg, "", fmt.Errorf("%s names variant %s, --variant %s another", arg, path, *variant)
		}
		cfg.Variant = *variant
	}
	was, now := describeData(trained.Data, trained.Variant), describeData(cfg.Data, cfg.Variant)
	if was != now {
		note = fmt.Sprintf("evaluating on %s; the checkpoint was trained on %s", now, was)
	}
	return cfg, note, nil
}

// specKind is the kind of the data set spec names ("" when unknown).
func specKind(spec string) string {
	kind, path := datasets.ParseSpec(spec)
	if kind == "" {
		kind, _ = datasets.Detect(path)
	}
	return kind
}

// variantOf is the variant a spec with the variant option loads: the
// option, else what synth:VARIANT names ("" for a kind's default).
func variantOf(spec, variant string) string {
	if variant != "" {
		return variant
	}
	if kind, path := datasets.ParseSpec(spec); kind == datasets.KindSynth {
		return path
	}
	return ""
}

// describeData names a data set for eval's note: its kind and folder (as
// ParseSpec reads them) and its variant.
func describeData(spec, variant string) string {
	kind, path := datasets.ParseSpec(spec)
	v := strings.ToLower(variantOf(spec, variant))
	if kind == datasets.KindSynth {
		if v == "" {
			v = synth.DefaultOptions().Variant
		}
		return "synth (variant " + v + ")"
	}
	if kind == "" {
		kind = specKind(spec)
	}
	s := path
	if kind != "" {
		s = kind + ":" + path
	}
	if v != "" {
		s += " (variant " + v + ")"
	}
	return s
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
