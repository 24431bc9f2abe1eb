package dist

import (
	"errors"
	"fmt"
	"sync"
)

// Loopback returns n Comms that connect goroutines of this process, one
// per rank: the same collectives as MPI's, for tests of multi-rank logic
// without a launcher. Each rank's Comm must be used by its own goroutine.
func Loopback(n int) []Comm {
	g := &loopGroup{n: n, bufs: make([]any, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for i := range cs {
		cs[i] = &loopComm{g: g, rank: i}
	}
	return cs
}

// loopGroup is the shared state: a reusable barrier and the buffers the
// ranks expose during a collective.
type loopGroup struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	arrived int
	phase   int
	aborted bool
	bufs    []any
}

// errAborted is the error of a collective on a group a rank aborted.
var errAborted = errors.New("dist: another rank aborted the run")

// barrier waits until all n ranks arrive.
func (g *loopGroup) barrier() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.aborted {
		return errAborted
	}
	ph := g.phase
	g.arrived++
	if g.arrived == g.n {
		g.arrived, g.phase = 0, g.phase+1
		g.cond.Broadcast()
		return nil
	}
	for g.phase == ph && !g.aborted {
		g.cond.Wait()
	}
	if g.aborted {
		return errAborted
	}
	return nil
}

type loopComm struct {
	g    *loopGroup
	rank int
}

func (c *loopComm) Rank() int    { return c.rank }
func (c *loopComm) Size() int    { return c.g.n }
func (c *loopComm) Name() string { return fmt.Sprintf("loopback (%d ranks)", c.g.n) }

// exchange exposes buf, waits for every rank's, runs f on all of them and
// waits until every rank is done with them.
func (c *loopComm) exchange(buf any, f func(all []any)) error {
	c.g.bufs[c.rank] = buf
	if err := c.g.barrier(); err != nil {
		return err
	}
	f(c.g.bufs)
	return c.g.barrier()
}

func (c *loopComm) SumFloat32(x []float32, ordered bool) error {
	out := make([]float32, len(x))
	err := c.exchange(x, func(all []any) {
		copy(out, all[0].([]float32))
		for _, b := range all[1:] {
			for i, v := range b.([]float32) {
				out[i] += v
			}
		}
	})
	if err == nil {
		copy(x, out)
	}
	return err
}

func (c *loopComm) SumFloat64(x []float64) error {
	out := make([]float64, len(x))
	err := c.exchange(x, func(all []any) {
		for _, b := range all {
			for i, v := range b.([]float64) {
				out[i] += v
			}
		}
	})
	if err == nil {
		copy(x, out)
	}
	return err
}

func (c *loopComm) Broadcast(b []byte, root int) error {
	var got []byte
	err := c.exchange(b, func(all []any) { got = append([]byte(nil), all[root].([]byte)...) })
	if err == nil {
		copy(b, got)
	}
	return err
}

func (c *loopComm) Abort(int) {
	c.g.mu.Lock()
	c.g.aborted = true
	c.g.cond.Broadcast()
	c.g.mu.Unlock()
}

func (c *loopComm) Close() error { return nil }
