package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pcx-dev/pcx/nn/state"
	"github.com/urfave/cli/v2"
)

// interspersed lets flags follow positional arguments (pcx sample MESH
// --points 2048), which urfave/cli stops parsing at the first positional
// argument: it finds the command named by args and moves that command's
// flags, with their values, before its positional arguments. Everything
// after a "--" stays positional.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	var flags []cli.Flag = app.Flags
	i := 1
	// Walk down the command names, keeping any flags met on the way.
	for i < len(args) {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			out = append(out, a)
			i++
			if !strings.Contains(a, "=") && takesValue(flags, strings.TrimLeft(a, "-")) && i < len(args) {
				out = append(out, args[i])
				i++
			}
			continue
		}
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(a) {
				next = c
			}
		}
		if next == nil {
			break
		}
		out = append(out, a)
		cmds, flags = next.Subcommands, next.Flags
		i++
	}
	var opts, pos []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		opts = append(opts, a)
		if !strings.Contains(a, "=") && takesValue(flags, strings.TrimLeft(a, "-")) && i+1 < len(args) {
			i++
			opts = append(opts, args[i])
		}
	}
	return append(append(out, opts...), pos...)
}

// takesValue reports whether the named flag expects a value (every flag but
// a boolean one).
func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}

// Flag errors as Go's flag package words them, which names a flag with one
// dash whatever the user typed.
var (
	badFlagValue = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([A-Za-z0-9][\w-]*): (.*)$`)
	flagNoValue  = regexp.MustCompile(`^flag needs an argument: -+([\w-]+)$`)
	flagUnknown  = regexp.MustCompile(`^flag provided but not defined: -+([\w-]+)$`)
)

// explainFlagErrors makes app and every command under it report a flag it
// cannot parse as the flag is written (--seed), with the value given and
// what the flag takes, instead of printing the usage.
func explainFlagErrors(app *cli.App) {
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return flagError(err, app.Flags) }
	var walk func([]*cli.Command)
	walk = func(cs []*cli.Command) {
		for _, cmd := range cs {
			flags := cmd.Flags
			cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return flagError(err, flags) }
			walk(cmd.Subcommands)
		}
	}
	walk(app.Commands)
}

// flagError rewords a flag-parsing error of a command with these flags.
func flagError(err error, flags []cli.Flag) error {
	msg := err.Error()
	if m := badFlagValue.FindStringSubmatch(msg); m != nil {
		val, uerr := strconv.Unquote(m[1])
		if uerr != nil {
			val = m[1]
		}
		want := "a valid value"
		for _, f := range flags {
			if !slices.Contains(f.Names(), m[2]) {
				continue
			}
			switch f.(type) {
			case *cli.IntFlag, *cli.Int64Flag:
				want = "a whole number"
			case *cli.UintFlag, *cli.Uint64Flag:
				want = "a whole number ≥ 0"
			case *cli.Float64Flag:
				want = "a number"
			case *cli.BoolFlag:
				want = "true or false"
			}
		}
		if strings.Contains(m[3], "out of range") {
			want += " in range"
		}
		return fmt.Errorf("%s %s: want %s", dashed(m[2]), state.Quote(val), want)
	}
	if m := flagNoValue.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s needs a value", dashed(m[1]))
	}
	if m := flagUnknown.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("unknown flag %s (see --help)", state.Quote(dashed(m[1])))
	}
	return err
}

// dashed writes a flag name as the help shows it: -n, --points.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
