package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRun: every index runs exactly once per region, f(0) on the caller,
// over many back-to-back regions and after pauses long enough for the
// workers to sleep.
func TestRun(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	for r := range 2000 {
		n := 1 + r%6 // up to more than the team
		counts := make([]atomic.Int32, n)
		Run(n, func(w int) { counts[w].Add(1) })
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("region %d of %d: f(%d) ran %d times", r, n, i, c)
			}
		}
		if r%500 == 0 {
			time.Sleep(3 * Spin) // the workers go to sleep
		}
	}
	Run(0, func(int) { t.Fatal("f called for n = 0") })
}

// TestRunWaits: Run returns only after every call has, even when one is
// slow enough for the caller to stop watching and sleep.
func TestRunWaits(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	for range 20 {
		var done atomic.Int32
		Run(2, func(w int) {
			if w == 1 {
				time.Sleep(2 * Spin)
			}
			done.Add(1)
		})
		if d := done.Load(); d != 2 {
			t.Fatalf("Run returned with %d of 2 calls done", d)
		}
	}
}

// TestRunNestedAndConcurrent: a Run inside a Run, and Runs from several
// goroutines at once, each complete with every index run once.
func TestRunNestedAndConcurrent(t *testing.T) {
	prev := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(prev)
	var total atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				Run(3, func(int) {
					Run(2+g%2, func(int) { total.Add(1) })
				})
			}
		}()
	}
	wg.Wait()
	want := int64(200 * 3 * (2 + 3 + 2 + 3))
	if got := total.Load(); got != want {
		t.Fatalf("%d calls, want %d", got, want)
	}
}
