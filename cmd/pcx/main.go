// Command pcx fine-tunes point-cloud transformers with parameter-efficient
// methods and provides the point-cloud tools around them: data set
// inspection and export, mesh sampling, farthest-point sampling, kNN
// grouping and benchmarks.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	// An interrupt removes the temporary files of writes in flight before
	// it ends pcx; commands that stop cleanly on it take it over
	// (interruptContext).
	stopTempCleanup = atomicfile.RemoveOnSignal()
	setGCPercent()
	app := newApp()
	if err := app.Run(interspersed(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "pcx:", err)
		os.Exit(exitCode(err))
	}
}

// gcPercent is the garbage collector's target unless GOGC says otherwise.
// Training keeps its activations in a pool that the collector counts as
// live (gigabytes for a Point-MAE step), and Go's default of 100 would let
// the garbage of each step (small per-call buffers, tens of MB) pile up to
// as much again before collecting it, each step's garbage in pages the
// kernel maps anew. At 25 the process holds at most a quarter more, and a
// collection of a heap of large pointer-free buffers costs milliseconds.
const gcPercent = 25

func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// stopTempCleanup ends main's removal of temporaries on an interrupt.
var stopTempCleanup = func() {}

// interruptContext returns a context cancelled by an interrupt (Ctrl-C) or
// SIGTERM, for a command that stops cleanly when it is: from then on these
// signals no longer end pcx at once. stop releases them. (A variable:
// tests interrupt commands through it.)
var interruptContext = func() (ctx context.Context, stop context.CancelFunc) {
	stopTempCleanup()
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// exitError is an error that ends pcx with its own exit status, once every
// deferred cleanup of the command has run.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// exitCode is the exit status for a command's error: 1 unless it says
// otherwise (exitError).
func exitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func newApp() *cli.App {
	app := &cli.App{
		Name:    "pcx",
		Usage:   "parameter-efficient fine-tuning of point-cloud and image transformers, and the tools around it",
		Version: version,
		Description: `Examples:
   pcx data info synth                  # the built-in procedural data set
   pcx sample bunny.off --points 2048 --out bunny.ply
   pcx fps scan.ply --n 1024 --out centres.xyz
   pcx group scan.ply --groups 128 --k 32 --json
   pcx bench fps --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "blas", EnvVars: []string{"PCX_BLAS"}, Value: "auto",
				Usage: "matrix products: auto (pure Go with its SIMD kernels; OpenBLAS on CPUs without them), openblas or go"},
		},
		Before: func(c *cli.Context) error {
			if b := c.String("blas"); b != "auto" {
				return blas.Use(b)
			}
			return nil
		},
		Commands: []*cli.Command{
			trainCommand(),
			pretrainCommand(),
			vtabCommand(),
			evalCommand(),
			predictCommand(),
			plotCommand(),
			dataCommand(),
			sampleCommand(),
			fpsCommand(),
			groupCommand(),
			benchCommand(),
			paramsCommand(),
			presetsCommand(),
			versionCommand(),
			selftestCommand(),
		},
	}
	explainFlagErrors(app)
	return app
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
