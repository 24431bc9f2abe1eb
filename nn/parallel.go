package nn

import (
	"runtime"
	"sync"
)

// parallelFor splits [0, n) into contiguous ranges of at least grain items
// and runs f on them across GOMAXPROCS goroutines.
func parallelFor(n, grain int, f func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if grain < 1 {
		grain = 1
	}
	if m := (n + grain - 1) / grain; m < w {
		w = m
	}
	if w <= 1 {
		f(0, n)
		return
	}
	per := (n + w - 1) / w
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
