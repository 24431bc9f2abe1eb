package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets/imagesets"
	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"github.com/pcx-dev/pcx/vision"
	"github.com/urfave/cli/v2"
)

// vtabRow is one task's outcome in the Table 1 row.
type vtabRow struct {
	Task      string  `json:"task"`
	Group     string  `json:"group"`
	Best      float64 `json:"best_acc"`
	BestEpoch int     `json:"best_epoch"`
	Last      float64 `json:"last_acc"`
	Epochs    int     `json:"epochs"`
	Done      bool    `json:"done"`
}

// vtabGroups are VTAB-1K's groups in Table 1's order, then the group of
// the user's own tasks.
var vtabGroups = []string{"natural", "specialized", "structured", "other"}

func vtabCommand() *cli.Command {
	k, _ := presets.LookupImageDataKind("vtab")
	s, err := presets.LookupSchedule(k.Schedule)
	if err != nil {
		panic(err)
	}
	flags := imageTrainFlags(k, s.Train)
	flags = append(flags, &cli.StringFlag{Name: "tasks", Usage: "comma-separated tasks to run (default: all 19 in Table 1's order)"},
		&cli.BoolFlag{Name: "skip-missing", Usage: "skip tasks whose folder --data lacks (default: an error)"})
	return &cli.Command{
		Name:  "vtab",
		Usage: "run every VTAB-1K task in turn and write the Table 1 row (CSV and Markdown)",
		Description: `Trains the method on each of the 19 VTAB-1K tasks of --data (NOAH's layout: ROOT/TASK with
train800val200.txt and test.txt) into OUT/TASK, with the options pcx train vtab takes, and
after each task rewrites OUT/table.csv and OUT/table.md: per task the best and the last test
accuracy, the three group means and their average (Table 1's "Avg. Acc.", from the best
accuracies, as NOAH reports). A finished task is kept; an unfinished one is resumed; run the
same command again to continue a sweep. --out defaults to runs/vtab-METHOD.

Example:
   pcx vtab --data vtab-1k --ckpt ViT-B_16.npz --method adaptformer-x`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("pcx vtab takes no arguments; the data is --data ROOT")
			}
			if c.IsSet("task") || c.Bool("resume") {
				return fmt.Errorf("pcx vtab runs every task (choose some with --tasks) and resumes by itself: give neither --task nor --resume")
			}
			if err := checkDeviceName(c.String("device")); err != nil {
				return err
			}
			tasks := imagesets.VTABTasks
			if t := c.String("tasks"); t != "" {
				tasks = nil
				for _, name := range strings.Split(t, ",") {
					name = strings.TrimSpace(name)
					vt, ok := imagesets.LookupVTAB(name)
					if !ok {
						// A task of the user's own in the layout (pcx data vtab1k).
						if st, err := os.Stat(filepath.Join(c.String("data"), name)); err != nil || !st.IsDir() || name == "" {
							return fmt.Errorf("--tasks: %q is neither a VTAB-1K task nor a task folder of --data", name)
						}
						vt = imagesets.VTABTask{Name: name, Group: "other"}
					}
					tasks = append(tasks, vt)
				}
			}
			out := c.String("out")
			if out == "" {
				out = filepath.Join("runs", "vtab-"+c.String("method"))
			}
			base, err := imageConfig(c, k)
			if err != nil {
				return err
			}
			var rows []vtabRow
			for _, vt := range tasks {
				dir := filepath.Join(out, vt.Name)
				row := vtabRow{Task: vt.Name, Group: vt.Group}
				if _, err := os.Stat(filepath.Join(base.Data, vt.Name)); err != nil {
					if c.Bool("skip-missing") {
						fmt.Printf("%s: no folder %s; skipped\n", vt.Name, filepath.Join(base.Data, vt.Name))
						rows = append(rows, row)
						continue
					}
					return fmt.Errorf("%s has no task %s (%v); give --skip-missing to run the others", base.Data, vt.Name, err)
				}
				cfg := base
				cfg.Task = vt.Name
				resume := false
				if _, err := os.Stat(filepath.Join(dir, classify.ConfigFile)); err == nil {
					if cfg, err = vision.ReadConfigFile(filepath.Join(dir, classify.ConfigFile)); err != nil {
						return err
					}
					resume = true
				}
				if n, done := train.Complete(dir); !done {
					fmt.Printf("== %s (%s)\n", vt.Name, vt.Group)
					if err := cfg.Validate(); err != nil {
						return err
					}
					if err := c.Set("resume", fmt.Sprint(resume)); err != nil {
						return err
					}
					if err := executeImageRun(c, cfg, dir); err != nil {
						return fmt.Errorf("%s: %w", vt.Name, err)
					}
				} else {
					fmt.Printf("== %s: complete (%d epochs), kept\n", vt.Name, n)
				}
				if row, err = vtabResult(dir, vt); err != nil {
					return err
				}
				rows = append(rows, row)
				if err := writeVTABTable(out, c.String("method"), rows); err != nil {
					return err
				}
			}
			fmt.Printf("wrote %s and %s\n", filepath.Join(out, "table.csv"), filepath.Join(out, "table.md"))
			return nil
		},
	}
}

// vtabResult reads a task run's best and last test accuracy.
func vtabResult(dir string, vt imagesets.VTABTask) (vtabRow, error) {
	row := vtabRow{Task: vt.Name, Group: vt.Group}
	ms, err := train.ReadMetrics(filepath.Join(dir, train.MetricsJSONL))
	if err != nil {
		return row, err
	}
	if len(ms) == 0 {
		return row, fmt.Errorf("%s: no epoch finished", dir)
	}
	last := ms[len(ms)-1]
	row.Last, row.Epochs, row.BestEpoch = metric(last, "test_acc"), last.Epoch, last.BestEpoch
	row.Best = metric(last, "best_acc")
	_, row.Done = train.Complete(dir)
	return row, nil
}

// vtabMeans returns the mean best accuracy of each group (NaN-free: a
// group without a finished task is left out) and the mean of the groups'.
func vtabMeans(rows []vtabRow) (map[string]float64, float64, int) {
	sum, n := map[string]float64{}, map[string]int{}
	for _, r := range rows {
		if r.Epochs > 0 {
			sum[r.Group] += r.Best
			n[r.Group]++
		}
	}
	means := map[string]float64{}
	var avg float64
	groups := 0
	for _, g := range vtabGroups {
		if n[g] > 0 {
			means[g] = sum[g] / float64(n[g])
			avg += means[g]
			groups++
		}
	}
	if groups > 0 {
		avg /= float64(groups)
	}
	return means, avg, groups
}

// writeVTABTable writes the sweep's table as CSV and Markdown, atomically.
func writeVTABTable(out, method string, rows []vtabRow) error {
	means, avg, groups := vtabMeans(rows)
	if err := atomicfile.Write(filepath.Join(out, "table.csv"), func(w io.Writer) error {
		fmt.Fprintln(w, "task,group,best_acc,best_epoch,last_acc,epochs,complete")
		for _, r := range rows {
			fmt.Fprintf(w, "%s,%s,%.4f,%d,%.4f,%d,%v\n", r.Task, r.Group, 100*r.Best, r.BestEpoch, 100*r.Last, r.Epochs, r.Done)
		}
		for _, g := range vtabGroups {
			if m, ok := means[g]; ok {
				fmt.Fprintf(w, "mean_%s,%s,%.4f,,,,\n", g, g, 100*m)
			}
		}
		if groups > 0 {
			fmt.Fprintf(w, "average,,%.4f,,,,\n", 100*avg)
		}
		return nil
	}); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(out, "table.md"), func(w io.Writer) error {
		var head, sep, best, last strings.Builder
		head.WriteString("| method | Avg. Acc. |")
		sep.WriteString("|---|---|")
		fmt.Fprintf(&best, "| %s (best) | %s |", method, pct(avg, groups > 0))
		fmt.Fprintf(&last, "| %s (last) | |", method)
		for _, r := range rows {
			fmt.Fprintf(&head, " %s |", r.Task)
			sep.WriteString("---|")
			fmt.Fprintf(&best, " %s |", pct(r.Best, r.Epochs > 0))
			fmt.Fprintf(&last, " %s |", pct(r.Last, r.Epochs > 0))
		}
		fmt.Fprintf(w, "%s\n%s\n%s\n%s\n\n", head.String(), sep.String(), best.String(), last.String())
		for _, g := range vtabGroups {
			if m, ok := means[g]; ok {
				fmt.Fprintf(w, "- %s mean (best): %.1f\n", g, 100*m)
			}
		}
		incomplete := 0
		for _, r := range rows {
			if !r.Done {
				incomplete++
			}
		}
		if incomplete > 0 {
			fmt.Fprintf(w, "\n%d of %d tasks are not complete; their columns show the epochs run so far.\n", incomplete, len(rows))
		}
		return nil
	})
}

// pct formats an accuracy as a percentage, or "–" when there is none.
func pct(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.1f", 100*v)
}

// vtab1kCommand is pcx data vtab1k: any labelled image set into the
// VTAB-1K layout.
func vtab1kCommand() *cli.Command {
	return &cli.Command{
		Name:      "vtab1k",
		Usage:     "write a labelled image set in VTAB-1K's layout (800 train / 200 val / test) to run the protocol on it",
		ArgsUsage: "KIND",
		Description: `KIND is an image data set kind (images, fashion-mnist, mnist, cifar) read from --data (the
kind's default folder when it has one). Writes OUT/TASK with images/, train800.txt, val200.txt,
train800val200.txt, test.txt and classes.txt; the picks are seeded. An existing OUT/TASK is never
replaced. pcx train vtab --data OUT --task TASK then trains on it.

Example:
   pcx data vtab1k fashion-mnist --out vtab-fm --task fashion_mnist`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "the data set's folder"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "VTAB-1K root to write the task into"},
			&cli.StringFlag{Name: "task", Required: true, Usage: "the task's folder name"},
			&cli.IntFlag{Name: "train", Value: 800, Usage: "training images"},
			&cli.IntFlag{Name: "val", Value: 200, Usage: "validation images"},
			&cli.IntFlag{Name: "test", Usage: "test images (0: the whole test split)"},
			&cli.Uint64Flag{Name: "seed", Usage: "seed of the picks"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("data vtab1k: give one image data set kind (images, fashion-mnist, mnist, cifar)")
			}
			k, ok := presets.LookupImageDataKind(c.Args().First())
			if !ok || k.Name == "vtab" {
				return fmt.Errorf("data vtab1k: %q is not an image data set kind to export (images, fashion-mnist, mnist, cifar)", c.Args().First())
			}
			for _, f := range []string{"train", "val"} {
				if _, err := intAtLeast(c, f, 1); err != nil {
					return err
				}
			}
			if _, err := intAtLeast(c, "test", 0); err != nil {
				return err
			}
			data := c.String("data")
			if data == "" {
				data = k.Data
			}
			if data == "" {
				return fmt.Errorf("data vtab1k %s needs --data DIR", k.Name)
			}
			d, err := vision.LoadData(vision.Config{Kind: k.Name, Data: data, Train: train.Config{Seed: c.Uint64("seed")}})
			if err != nil {
				return err
			}
			if c.Int("train")+c.Int("val") > d.Train.Len() {
				return fmt.Errorf("%s has %d training images, fewer than --train %d + --val %d", data, d.Train.Len(), c.Int("train"), c.Int("val"))
			}
			defer atomicfile.RemoveOnSignal()()
			if err := imagesets.ExportVTAB1K(d, c.String("out"), c.String("task"), c.Uint64("seed"), c.Int("train"), c.Int("val"), c.Int("test")); err != nil {
				return err
			}
			test := c.Int("test")
			if test == 0 || test > d.Test.Len() {
				test = d.Test.Len()
			}
			fmt.Printf("wrote %s: %d train, %d val, %d test images of %d classes\n", filepath.Join(c.String("out"), c.String("task")),
				c.Int("train"), c.Int("val"), test, len(d.Classes))
			return nil
		},
	}
}
