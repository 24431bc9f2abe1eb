package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/presets"
	"github.com/urfave/cli/v2"
)

func paramsCommand() *cli.Command {
	return &cli.Command{
		Name:  "params",
		Usage: "tunable and total parameters of a preset and fine-tuning method, per module",
		Description: `Presets: ` + strings.Join(presets.ModelNames(), ", ") + `
Methods: ` + strings.Join(presets.MethodNames(), ", ") + `
(pcx presets shows what each sets)

Example:
   pcx params --preset scan_objbg --method linear --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "preset", Aliases: []string{"model"}, Value: "scan_objbg", Usage: "model preset (see pcx presets)"},
			&cli.StringFlag{Name: "method", Value: "full", Usage: "fine-tuning method: " + methodList()},
			&cli.BoolFlag{Name: "keep-dapt", Usage: "dapt-x keeping DAPT's SSFs and dynamic adapters"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: func(c *cli.Context) error {
			p, err := presets.LookupModel(c.String("preset"))
			if err != nil {
				return err
			}
			mc, err := classify.ResolveModel(p.Name, c.String("method"), 0)
			if err != nil {
				return err
			}
			mc.KeepDAPT = c.Bool("keep-dapt")
			if mc.KeepDAPT && mc.Method != "dapt-x" {
				return fmt.Errorf("--keep-dapt applies to dapt-x only")
			}
			m, err := classify.NewModel(mc, pointcloud.NewRand(0))
			if err != nil {
				return err
			}
			ps := m.Params()
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
