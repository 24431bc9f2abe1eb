//go:build !linux

package workers

import "runtime"

// osYield yields to the Go scheduler where sched_yield is not at hand.
func osYield() { runtime.Gosched() }
