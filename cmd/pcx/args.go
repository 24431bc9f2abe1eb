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
// what the flag takes, instead of printing the usage; and a command with
// subcommands answer an unknown one with the closest and the choices.
func explainFlagErrors(app *cli.App) {
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return flagError(err, app.Flags) }
	if app.Action == nil {
		app.Action = unknownSubcommand(&cli.Command{Subcommands: app.Commands})
	}
	var walk func([]*cli.Command)
	walk = func(cs []*cli.Command) {
		for _, cmd := range cs {
			flags := cmd.Flags
			cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return flagError(err, flags) }
			if len(cmd.Subcommands) > 0 && cmd.Action == nil {
				cmd.Action = unknownSubcommand(cmd)
			}
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
		var names []string
		for _, f := range flags {
			names = append(names, f.Names()...)
		}
		if n := nearest(m[1], names); n != "" {
			return fmt.Errorf("unknown flag %s; did you mean %s? (see --help)", state.Quote(dashed(m[1])), dashed(n))
		}
		return fmt.Errorf("unknown flag %s (see --help)", state.Quote(dashed(m[1])))
	}
	return err
}

// nearest is the name among names closest to s in edit distance, when it
// is close enough to be a slip (at most a third of s's letters, and at
// least one, differ); "" when none is.
func nearest(s string, names []string) string {
	best, bestD := "", max(len([]rune(s))/3, 1)+1
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the number of single-rune insertions, deletions,
// substitutions and swaps of neighbours that turn a into b (optimal string
// alignment distance).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb)) // input too long to be a slip
	}
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			sub := d[i-1][j-1]
			if ra[i-1] != rb[j-1] {
				sub++
			}
			d[i][j] = min(sub, d[i-1][j]+1, d[i][j-1]+1)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// unknownSubcommand is the action of cmd, a command with subcommands, run
// when the first argument names none of them: it shows the command's help
// without one, and otherwise names the closest subcommand and every choice.
func unknownSubcommand(cmd *cli.Command) cli.ActionFunc {
	what, path := "subcommand", "pcx "+cmd.Name
	switch cmd.Name {
	case "train":
		what = "data set kind"
	case "":
		what, path = "command", "pcx"
	}
	return func(c *cli.Context) error {
		if c.NArg() == 0 {
			if cmd.Name == "" {
				return cli.ShowAppHelp(c)
			}
			return cli.ShowSubcommandHelp(c)
		}
		var names []string
		for _, sc := range cmd.Subcommands {
			if !sc.Hidden && sc.Name != "help" {
				names = append(names, sc.Name)
			}
		}
		arg := c.Args().First()
		msg := fmt.Sprintf("unknown %s %s for %s", what, state.Quote(arg), path)
		if n := nearest(arg, names); n != "" {
			msg += fmt.Sprintf("; did you mean %s?", n)
		}
		return fmt.Errorf("%s (choose from %s)", msg, strings.Join(names, ", "))
	}
}

// dashed writes a flag name as the help shows it: -n, --points.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// splitList splits a comma-separated flag value into its trimmed,
// non-empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
