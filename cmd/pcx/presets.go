package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/presets"
	"github.com/urfave/cli/v2"
)

func presetsCommand() *cli.Command {
	return &cli.Command{
		Name:  "presets",
		Usage: "the named configurations: model presets, methods, schedules, data set kinds and pretraining presets",
		Description: `Every default pcx train, pcx params and a config file's preset: and method: keys
take comes from this table.

Examples:
   pcx presets
   pcx presets --json`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fmt.Errorf("pcx presets takes no arguments (got %s)", state.Quote(c.Args().First()))
			}
			if c.Bool("json") {
				return writeJSON(os.Stdout, struct {
					presets.Registry
					// PretrainModels are pcx pretrain's presets, and
					// PretrainDefaults the preset each subcommand takes.
					PretrainModels   []presets.PretrainModel `json:"pretrain_models"`
					PretrainDefaults map[string]string       `json:"pretrain_defaults"`
				}{presets.All(), presets.PretrainModels(), pretrainDefaults()})
			}
			if err := presets.Print(os.Stdout); err != nil {
				return err
			}
			return printPretrainPresets(os.Stdout)
		},
	}
}

// methodList is the methods as usage text says them: "full, linear, dapt
// or dapt-x".
func methodList() string {
	m := presets.MethodNames()
	if len(m) < 2 {
		return strings.Join(m, "")
	}
	return strings.Join(m[:len(m)-1], ", ") + " or " + m[len(m)-1]
}

// pretrainDefaults maps each pcx pretrain point-cloud subcommand to its
// default preset.
func pretrainDefaults() map[string]string {
	m := map[string]string{}
	for _, k := range pretrainKinds {
		m[k.name] = k.preset
	}
	return m
}

// printPretrainPresets writes the pretraining presets as a text table.
func printPretrainPresets(w io.Writer) error {
	var b strings.Builder
	b.WriteString("\nPretraining presets (pcx pretrain --preset; Point-MAE's masked autoencoder):\n")
	fmt.Fprintf(&b, "  %-9s %6s %5s %4s %5s %5s %5s %7s %7s %5s %-5s %8s %6s %5s %8s\n", "name", "points", "groups", "size", "width",
		"depth", "heads", "decoder", "d.heads", "mask", "type", "droppath", "epochs", "batch", "lr")
	for _, m := range presets.PretrainModels() {
		t := m.Train
		fmt.Fprintf(&b, "  %-9s %6d %5d %4d %5d %5d %5d %7d %7d %5g %-5s %8g %6d %5d %8g  %s\n", m.Name, m.Points, m.Groups, m.GroupSize,
			m.TransDim, m.Depth, m.Heads, m.DecoderDepth, m.DecoderHeads, m.MaskRatio, m.MaskType, m.DropPath, t.Epochs, t.BatchSize, t.LR, m.Summary)
	}
	var ds []string
	for _, k := range pretrainKinds {
		ds = append(ds, k.name+"→"+k.preset)
	}
	fmt.Fprintf(&b, "  defaults: pcx pretrain %s\n", strings.Join(ds, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}
