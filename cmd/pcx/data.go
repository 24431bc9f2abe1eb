package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/urfave/cli/v2"
)

// datasetFlags are the loading choices shared by the commands that open a
// data set.
func datasetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "variant", Usage: "ScanObjectNN: objbg, objonly or hardest; synth: clean, bg or hardest"},
		&cli.IntFlag{Name: "points", Usage: "points per sample (0: the data set's default)"},
		&cli.Uint64Flag{Name: "seed", Usage: "seed for mesh sampling, subsets and synth generation"},
		&cli.BoolFlag{Name: "normals", Usage: "keep normals where the data has them"},
		&cli.StringFlag{Name: "layout", Usage: "force a ModelNet40 layout: dat, txt or mesh"},
	}
}

// datasetOptions reads the loading flags for the data set spec, refusing a
// negative --points and one whose samples would not fit in memory.
func datasetOptions(c *cli.Context, spec string) (datasets.Options, error) {
	opt := datasets.Options{Variant: c.String("variant"), Points: c.Int("points"), Seed: c.Uint64("seed"),
		Normals: c.Bool("normals"), Layout: c.String("layout")}
	if opt.Points < 0 {
		return opt, fmt.Errorf("--points must not be negative (got %d; 0 takes the data set's default)", opt.Points)
	}
	if err := checkSpec(spec); err != nil {
		return opt, err
	}
	return opt, classify.CheckData(spec, opt)
}

// checkSpec refuses a data set that is neither a kind pcx knows nor an
// existing path when it is a slip of a kind's name (sinth, modelnet:DIR),
// naming the kind meant; other paths are left to the loaders.
func checkSpec(spec string) error {
	kind, path := datasets.ParseSpec(spec)
	if kind != "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	word := spec
	if i := strings.IndexByte(spec, ':'); i > 0 {
		word = spec[:i]
	}
	if n := nearest(word, datasets.Kinds()); n != "" {
		return fmt.Errorf("%s: no such file or folder, nor a data set kind; did you mean %s? (kinds: %s)",
			state.Quote(spec), n, strings.Join(datasets.Kinds(), ", "))
	}
	return nil
}

func dataCommand() *cli.Command {
	kinds := strings.Join(datasets.Kinds(), ", ")
	return &cli.Command{
		Name:  "data",
		Usage: "inspect and export data sets",
		Description: `A data set is "synth" (the built-in procedural set), "synth:VARIANT", KIND:PATH
with KIND one of ` + kinds + `, or a folder whose layout pcx detects.`,
		Subcommands: []*cli.Command{
			vtab1kCommand(),
			{
				Name:      "info",
				Usage:     "samples, classes, points per sample and per-class counts",
				ArgsUsage: "PATH|synth",
				Description: `Examples:
   pcx data info synth
   pcx data info ~/data/ScanObjectNN/h5_files --variant hardest --json
   pcx data info modelnet40:~/data/modelnet40_normal_resampled`,
				Flags: append(datasetFlags(), &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("data info: give one data set")
					}
					opt, err := datasetOptions(c, c.Args().First())
					if err != nil {
						return err
					}
					d, err := datasets.Open(c.Args().First(), opt)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return writeJSON(os.Stdout, d.Info())
					}
					fmt.Print(d.Info().String())
					return nil
				},
			},
			{
				Name:      "export",
				Usage:     "write a data set as h5 (ScanObjectNN layout), npy or a folder of PLY files",
				ArgsUsage: "PATH|synth",
				Description: `--out is a new or empty folder; with --overwrite, an existing one's files of the
same names are replaced (others are left as they are).

Examples:
   pcx data export synth --format h5 --out synth-h5
   pcx data export synth:hardest --format ply --out synth-ply`,
				Flags: append(datasetFlags(),
					&cli.StringFlag{Name: "format", Value: "h5", Usage: "h5, npy or ply"},
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "output folder"},
					overwriteFlag()),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("data export: give one data set")
					}
					if f := c.String("format"); !slices.Contains(datasets.ExportFormats(), f) {
						return fmt.Errorf("unknown --format %s (choose from %s)", state.Quote(f), strings.Join(datasets.ExportFormats(), ", "))
					}
					opt, err := datasetOptions(c, c.Args().First())
					if err != nil {
						return err
					}
					if err := checkNewFolder(c.String("out"), c.Bool("overwrite")); err != nil {
						return err
					}
					defer atomicfile.RemoveOnSignal()()
					d, err := datasets.Open(c.Args().First(), opt)
					if err != nil {
						return err
					}
					if err := datasets.Export(d, c.String("out"), c.String("format")); err != nil {
						return err
					}
					in := d.Info()
					fmt.Printf("wrote %s (%d train, %d test samples, %d classes) to %s as %s\n",
						in.Name, in.Train.Samples, in.Test.Samples, len(in.Classes), c.String("out"), c.String("format"))
					return nil
				},
			},
		},
	}
}
