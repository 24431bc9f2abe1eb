package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/urfave/cli/v2"
)

func paramsCommand() *cli.Command {
	return &cli.Command{
		Name:  "params",
		Usage: "tunable and total parameters of a preset and fine-tuning method, per module",
		Description: `Presets: ` + strings.Join(backbone.Presets(), ", ") + `
Methods: ` + strings.Join(backbone.Methods(), ", ") + `, dapt, dapt-x

Example:
   pcx params --preset scan_objbg --method linear --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "preset", Value: "scan_objbg", Usage: "model configuration"},
			&cli.StringFlag{Name: "method", Value: "full", Usage: "fine-tuning method"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: func(c *cli.Context) error {
			p, err := backbone.LookupPreset(c.String("preset"))
			if err != nil {
				return err
			}
			methods := append(backbone.Methods(), "dapt", "dapt-x")
			if !slices.Contains(methods, c.String("method")) {
				return fmt.Errorf("unknown method %q (have %s)", c.String("method"), strings.Join(methods, ", "))
			}
			var ps nn.Params
			if c.String("method") == "dapt" {
				cfg, err := adapters.DAPTPreset(p.Name)
				if err != nil {
					return err
				}
				d, err := adapters.NewDAPT(cfg, pointcloud.NewRand(0))
				if err != nil {
					return err
				}
				ps = d.Params()
			} else if c.String("method") == "dapt-x" {
				cfg, err := adapters.DAPTXPreset(p.Name)
				if err != nil {
					return err
				}
				d, err := adapters.NewDAPTX(cfg, pointcloud.NewRand(0))
				if err != nil {
					return err
				}
				ps = d.Params()
			} else {
				m, err := backbone.NewPointMAE(p.Config(), pointcloud.NewRand(0))
				if err != nil {
					return err
				}
				if err := backbone.ApplyMethod(m, c.String("method")); err != nil {
					return err
				}
				ps = m.Params()
			}
			r := backbone.CountParams(ps)
			if c.Bool("json") {
				return writeJSON(os.Stdout, struct {
					Preset string `json:"preset"`
					Method string `json:"method"`
					backbone.ParamReport
				}{p.Name, c.String("method"), r})
			}
			fmt.Printf("%s, %s: %d of %d parameters tunable (%.2f%%)\n", p.Name, c.String("method"), r.Tunable, r.Total, r.Percent)
			fmt.Printf("%-20s %12s %12s\n", "module", "total", "tunable")
			for _, mc := range r.Modules {
				fmt.Printf("%-20s %12d %12d\n", mc.Module, mc.Total, mc.Tunable)
			}
			return nil
		},
	}
}
