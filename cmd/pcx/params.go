package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/vision"
	"github.com/urfave/cli/v2"
)

func paramsCommand() *cli.Command {
	return &cli.Command{
		Name:  "params",
		Usage: "tunable and total parameters of a preset and fine-tuning method, per module",
		Description: `Presets: ` + strings.Join(presets.ModelNames(), ", ") + `
Methods: ` + strings.Join(presets.MethodNames(), ", ") + `
Image presets: ` + imageModelList() + `
Image methods: ` + imageMethodList() + `
(pcx presets shows what each sets)
For an image preset without --method, every image method's counts are listed, with and without
the head (the paper's Table 1 counts leave the head out).

Example:
   pcx params --preset scan_objbg --method linear --json
   pcx params --model vit-b16`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "preset", Aliases: []string{"model"}, Value: "scan_objbg", Usage: "model preset (see pcx presets)"},
			&cli.StringFlag{Name: "method", Value: "full", Usage: "fine-tuning method: " + methodList()},
			&cli.BoolFlag{Name: "keep-dapt", Usage: "dapt-x keeping DAPT's SSFs and dynamic adapters"},
			&cli.IntFlag{Name: "classes", Usage: "image presets: the head's classes (0: 100, VTAB's CIFAR-100)"},
			&cli.BoolFlag{Name: "smoa-only", Usage: "image -x methods: the SMoA without the block-specific design"},
			&cli.BoolFlag{Name: "no-sharing", Usage: "image -x methods: one SMoA per block"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: func(c *cli.Context) error {
			if presets.IsImageModel(c.String("preset")) {
				return imageParams(c)
			}
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

// imageModelList names the ViT presets for help texts.
func imageModelList() string {
	var names []string
	for _, m := range presets.ImageModels() {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

// imageParamRow is one image method's counts.
type imageParamRow struct {
	Method string `json:"method"`
	backbone.ParamReport
	// NoHead is the tunable count without the head (Table 1's convention).
	NoHead int `json:"tunable_without_head"`
	// NoHeadPercent is NoHead over the backbone's parameters without
	// the head.
	NoHeadPercent float64 `json:"tunable_without_head_percent"`
}

// imageParams is pcx params for a ViT preset.
func imageParams(c *cli.Context) error {
	preset := c.String("preset")
	methods := presets.ImageMethodNames()
	if c.IsSet("method") {
		methods = []string{c.String("method")}
	}
	classes := c.Int("classes")
	if classes <= 0 {
		classes = 100
	}
	var rows []imageParamRow
	for _, method := range methods {
		mc, err := vision.ResolveModel(preset, method, classes, 0)
		if err != nil {
			return err
		}
		mc.SMoAOnly, mc.NoSharing = c.Bool("smoa-only"), c.Bool("no-sharing")
		if (mc.SMoAOnly || mc.NoSharing) && !strings.HasSuffix(method, "-x") {
			if c.IsSet("method") {
				return fmt.Errorf("--smoa-only and --no-sharing apply to adapter-x and adaptformer-x, not %s", method)
			}
			mc.SMoAOnly, mc.NoSharing = false, false
		}
		m, err := vision.NewModel(mc, pointcloud.NewRand(0))
		if err != nil {
			return err
		}
		r := backbone.CountParams(m.Params())
		head := m.Net.Head.Params().Count()
		row := imageParamRow{Method: method, ParamReport: r, NoHead: r.Tunable - head}
		if method == "full" {
			row.NoHead = r.Total - head
		}
		row.NoHeadPercent = 100 * float64(row.NoHead) / float64(r.Total-head)
		rows = append(rows, row)
	}
	if c.Bool("json") {
		return writeJSON(os.Stdout, struct {
			Preset  string          `json:"preset"`
			Classes int             `json:"classes"`
			Methods []imageParamRow `json:"methods"`
		}{preset, classes, rows})
	}
	fmt.Printf("%s, %d classes: tunable parameters per method (without the head: the paper's Table 1 counts)\n", preset, classes)
	fmt.Printf("%-14s %12s %12s %10s %14s %9s\n", "method", "total", "tunable", "tunable %", "without head", "of ViT %")
	for _, r := range rows {
		fmt.Printf("%-14s %12d %12d %9.3f%% %14d %8.3f%%\n", r.Method, r.Total, r.Tunable, r.Percent, r.NoHead, r.NoHeadPercent)
	}
	if len(rows) == 1 {
		fmt.Printf("%-20s %12s %12s\n", "module", "total", "tunable")
		for _, mc := range rows[0].Modules {
			fmt.Printf("%-20s %12d %12d\n", mc.Module, mc.Total, mc.Tunable)
		}
	}
	return nil
}
