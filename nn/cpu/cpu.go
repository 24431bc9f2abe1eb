// Package cpu holds the CPU kernels of pcx's engine: plain loops over
// row-major float32 slices, parallel across rows where the work is large
// enough. Package nn decides what to compute and records the backward pass;
// the kernels here only compute. Backward kernels accumulate (+=) into the
// gradients they are given.
package cpu

import (
	"runtime"

	"github.com/pcx-dev/pcx/internal/workers"
)

// ParallelRows runs f over [0, rows) split across GOMAXPROCS goroutines,
// each range at least grain rows.
func ParallelRows(rows, grain int, f func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	w := (rows + grain - 1) / grain
	if w > 1 {
		// Only then: runtime.GOMAXPROCS takes the scheduler's lock.
		w = min(w, runtime.GOMAXPROCS(0))
	}
	if w <= 1 {
		f(0, rows)
		return
	}
	per := (rows + w - 1) / w
	w = (rows + per - 1) / per
	workers.Run(w, func(i int) { f(i*per, min((i+1)*per, rows)) })
}

// Zero sets every value of x to 0, across cores when x is large (a
// single core zeroing a step's activation buffers leaves the other idle).
func Zero(x []float32) {
	ParallelRows(len(x), 1<<18, func(lo, hi int) { clear(x[lo:hi]) })
}

// grainFor returns a row grain so that each goroutine gets about 32k values.
func grainFor(cols int) int { return max(1, 32768/max(cols, 1)) }
