package nn

import "github.com/pcx-dev/pcx/nn/cpu"

// parallelFor splits [0, n) into contiguous ranges of at least grain items
// and runs f on them across GOMAXPROCS goroutines.
func parallelFor(n, grain int, f func(lo, hi int)) { cpu.ParallelRows(n, grain, f) }
