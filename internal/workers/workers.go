// Package workers runs the engine's parallel loops on goroutines that stay
// awake between them.
//
// A training step is a chain of a few hundred short parallel regions (one
// per matrix product's k block, per elementwise operation), each a few
// hundred microseconds long. Started with a go statement, each region wakes
// a sleeping thread on an idle core, and the thread goes back to sleep at
// its end: on a virtual machine that is tens of microseconds per region,
// and the core idles meanwhile. Run hands the work to GOMAXPROCS-1
// goroutines that, once done, watch for the next region for a short while
// (Spin) before they sleep, so that back-to-back regions start at once.
package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Spin is how long a worker watches for the next region before it sleeps.
// Between two regions of a step there may be a millisecond of serial work
// (a layer's bookkeeping, a product's last task finishing on the other
// core); a worker that slept through it took up to 0.6 ms to wake on the
// 2-core VM this was tuned on, while the caller waited for its half of the
// next region. With 100 µs, pcx bench engine woke the workers five times a
// step and took about 1.4 ms longer (medians of six alternating runs).
const Spin = 2 * time.Millisecond

// YieldAfter is how long a watching goroutine yields to the Go scheduler
// only (runtime.Gosched, which runs the process's other goroutines, a data
// loader say); after it, each turn also yields the core to the operating
// system (sched_yield where there is one), which returns at
// once on an idle core but lets another process's threads run on a busy
// one, so that a worker watching through a gap does not hold its core from
// other work (a second test binary, a second rank on the same machine). Two
// pcx bench engine processes at once on the 2 cores took 123–125 ms a step
// each with Spin spent in Gosched alone, 94–96 ms with the former 100 µs
// spin, and 99–108 ms with this.
const YieldAfter = 100 * time.Microsecond

// watch paces one stretch of watching, from start.
type watch struct {
	start time.Time
	late  bool // YieldAfter has passed
}

func newWatch() watch { return watch{start: time.Now()} }

// turn is turn i of watching: true once Spin has passed (the watcher should
// sleep now); otherwise it yields to the process's other goroutines (a data
// loader waiting for a P) and, once late, to other processes, and returns
// false. The clock is read every 64th turn.
func (w *watch) turn(i int) bool {
	if i%64 == 63 {
		el := time.Since(w.start)
		if el > Spin {
			return true
		}
		w.late = el > YieldAfter
	}
	runtime.Gosched()
	if w.late {
		osYield()
	}
	return false
}

// team is the set of workers; one Run at a time uses it (busy), others
// start goroutines of their own.
type team struct {
	busy    sync.Mutex
	workers []*worker
	// The region being run: f(i) for i < n, posted by advancing seq.
	f       func(int)
	n       int
	seq     atomic.Uint64
	pending atomic.Int32 // workers yet to finish the region
	// The caller of Run sleeps on done when the workers take long.
	callerSleeps atomic.Bool
	done         chan struct{}
}

type worker struct {
	index  int // f index it runs: 1..
	sleeps atomic.Bool
	wake   chan struct{}
}

var (
	theTeam  *team
	teamOnce sync.Once
)

func getTeam() *team {
	teamOnce.Do(func() {
		t := &team{done: make(chan struct{}, 1)}
		for i := 1; i < runtime.GOMAXPROCS(0); i++ {
			w := &worker{index: i, wake: make(chan struct{}, 1)}
			t.workers = append(t.workers, w)
			go t.loop(w)
		}
		theTeam = t
	})
	return theTeam
}

// Run calls f(0), …, f(n-1) at the same time, f(0) on the calling
// goroutine, and returns when all have returned.
func Run(n int, f func(w int)) {
	if n <= 1 {
		if n == 1 {
			f(0)
		}
		return
	}
	t := getTeam()
	if n-1 > len(t.workers) || !t.busy.TryLock() {
		// More than the team, or the team is running another region
		// (a nested or concurrent Run): goroutines of its own.
		spawn(n, f)
		return
	}
	defer t.busy.Unlock()
	t.f, t.n = f, n
	t.pending.Store(int32(len(t.workers)))
	t.seq.Add(1) // publishes f and n
	for _, w := range t.workers {
		if w.sleeps.Load() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	f(0)
	t.wait()
	t.f = nil
}

// wait returns when every worker has finished the region: it watches for a
// while, then sleeps until the last one wakes it.
func (t *team) wait() {
	w := newWatch()
	for i := 0; t.pending.Load() != 0; i++ {
		if w.turn(i) {
			t.callerSleeps.Store(true)
			if t.pending.Load() != 0 {
				<-t.done
			}
			t.callerSleeps.Store(false)
			select { // a wake-up sent after the check above
			case <-t.done:
			default:
			}
			i = 0
			w = newWatch()
		}
	}
}

// loop is a worker: it runs its part of each region, then watches for the
// next one for Spin before sleeping until Run wakes it.
func (t *team) loop(w *worker) {
	var last uint64
	for {
		wt := newWatch()
		for i := 0; t.seq.Load() == last; i++ {
			if wt.turn(i) {
				w.sleeps.Store(true)
				if t.seq.Load() == last {
					<-w.wake
				}
				w.sleeps.Store(false)
				i = 0
				wt = newWatch()
			}
		}
		last = t.seq.Load()
		if w.index < t.n {
			t.f(w.index)
		}
		if t.pending.Add(-1) == 0 && t.callerSleeps.Load() {
			select {
			case t.done <- struct{}{}:
			default:
			}
		}
	}
}

// spawn is Run with a goroutine per call but the first.
func spawn(n int, f func(w int)) {
	var wg sync.WaitGroup
	wg.Add(n - 1)
	for w := 1; w < n; w++ {
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	f(0)
	wg.Wait()
}
