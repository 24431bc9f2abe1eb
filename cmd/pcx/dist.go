package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/pcx-dev/pcx/nn/dist"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// The flags of data-parallel training, shared by every training command.
var (
	distFlag = &cli.StringFlag{Name: "dist", Value: "auto", Usage: "data parallelism across the processes a launcher started (mpirun -np N pcx train ...): " +
		"auto (mpi when started by mpirun or srun, otherwise none), mpi or none"}
	shardsFlag = &cli.IntFlag{Name: "shards", Usage: "split each batch into N shards, each with its own batch-norm statistics and random streams, " +
		"as N ranks do (default: one a rank); one process with --shards N computes what N ranks compute"}
	deterministicFlag = &cli.BoolFlag{Name: "deterministic", Usage: "sum the ranks' gradients in rank order, so that a data-parallel run repeats bit for bit"}
)

// openDist joins the run's other ranks when a launcher started several
// (nil: this process trains alone), and gives each rank its share of the
// machine's cores unless GOMAXPROCS says otherwise.
func openDist(c *cli.Context) (dist.Comm, error) {
	comm, err := dist.Open(c.String("dist"))
	if err != nil || comm == nil {
		return nil, err
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(max(1, runtime.NumCPU()/dist.LocalRanks()))
	}
	return comm, nil
}

// runRank is a training command on a rank other than 0: it loads the data
// and trains; rank 0 owns the run directory, the log and the figures.
func runRank(c *cli.Context, r runSpec, par train.Parallel) error {
	classes, err := r.load()
	if err != nil {
		return abortOthers(par, err)
	}
	ctx, stop := interruptContext()
	defer stop()
	_, err = r.run(ctx, classes, io.Discard, nil, par)
	switch {
	case err == nil, errors.Is(err, train.ErrComplete):
		return nil
	case errors.Is(err, train.ErrInterrupted):
		return exitError{130, fmt.Errorf("rank %d: %w", par.Comm.Rank(), err)}
	}
	return abortOthers(par, err)
}

// abortOthers reports err, and in a data-parallel run ends every rank with
// it: the others may be waiting for this one, which will not come.
func abortOthers(par train.Parallel, err error) error {
	if par.Comm == nil || err == nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pcx: rank %d of %d: %v\n", par.Comm.Rank(), par.Comm.Size(), err)
	par.Comm.Abort(exitCode(err))
	return err
}

// watchStop reports, on rank 0, a stop signal the run has not answered
// within a few seconds: a launcher ending the run after one of its ranks
// ended (the others then wait in an exchange that never completes) sends
// it just before it kills them. The returned function ends the watch.
func watchStop(ctx context.Context, par train.Parallel, resume func() string) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			fmt.Fprintf(os.Stderr, "pcx: rank 0 of %d: asked to stop, and the other ranks do not answer (the launcher ends the run when a rank ends); "+
				"the run resumes from its last checkpoint, on any number of ranks:\n   %s\n", par.Comm.Size(), resume())
		}
	}()
	return func() { close(done) }
}

// resumeShards applies --shards to a resumed run's settings: a run may go
// on with other shards (on another number of ranks), which the run's log
// then notes.
func resumeShards(c *cli.Context, t *train.Config) {
	if c.IsSet("shards") {
		t.Shards = c.Int("shards")
	}
}
