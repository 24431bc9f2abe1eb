package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/presets"
	"github.com/urfave/cli/v2"
)

func presetsCommand() *cli.Command {
	return &cli.Command{
		Name:  "presets",
		Usage: "the named configurations: model presets, methods, schedules and data set kinds",
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
				return presets.PrintJSON(os.Stdout)
			}
			return presets.Print(os.Stdout)
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
