package nn

import (
	"sync"

	"github.com/pcx-dev/pcx/nn/cpu"
)

// Pool recycles float32 buffers between training steps, so that a step's
// activations and their gradients reuse the previous step's memory instead
// of allocating. A Tape created with NewTapePool takes its outputs and their
// gradients from a Pool and gives them back on Release.
type Pool struct {
	mu   sync.Mutex
	free map[int][][]float32
	// Allocated counts the buffers the pool had to allocate, for tests and
	// benchmarks: it stops growing once steps repeat.
	Allocated int
	// trace, when set, is told of every buffer handed out and given back
	// (see Profile); nil costs a nil check.
	trace *Profile
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{free: map[int][][]float32{}} }

// sizeClass rounds n up to the pool's next buffer size: n itself below
// 256, otherwise m·2^k with m in 4..7 (four sizes per octave, at most 25%
// unused). Buffers whose sizes differ a little (a token sequence that
// grows by one per block, as DAPT's and DAPT-X's do) then share a class and
// are reused for one another.
func sizeClass(n int) int {
	if n < 256 {
		return n
	}
	k := 0
	for m := n; m >= 8; m >>= 1 {
		k++
	}
	// n = m·2^k + rest with 4 ≤ m < 8 (m = n>>k).
	c := (n >> k) << k
	if c < n {
		c += 1 << k
	}
	return c
}

// get returns a zeroed buffer of n values, its capacity the size class of
// n.
func (p *Pool) get(n int) []float32 {
	b, reused := p.take(n)
	if reused {
		cpu.Zero(b)
	}
	return b
}

// getRaw is get without zeroing a reused buffer: for an operation that
// writes every value of its output before anything reads it.
func (p *Pool) getRaw(n int) []float32 {
	b, _ := p.take(n)
	return b
}

// take returns a buffer of n values, a free one of n's size class holding
// a former tensor's values (reused) or a new zeroed one.
func (p *Pool) take(n int) (b []float32, reused bool) {
	c := sizeClass(n)
	p.mu.Lock()
	l := p.free[c]
	if k := len(l); k > 0 {
		b = l[k-1][:n]
		p.free[c] = l[:k-1]
		reused = true
	} else {
		p.Allocated++
	}
	p.mu.Unlock()
	if !reused {
		b = make([]float32, n, c)
	}
	if p.trace != nil {
		p.trace.got(b)
	}
	return b, reused
}

// put gives a buffer from get back.
func (p *Pool) put(b []float32) {
	if p.trace != nil {
		p.trace.gave(b)
	}
	c := cap(b)
	p.mu.Lock()
	p.free[c] = append(p.free[c], b[:c])
	p.mu.Unlock()
}

// Trim drops the buffers the pool holds free, for the garbage collector to
// reclaim, and returns how many float32 values they held. Between phases
// whose buffers differ in size (training steps, then an evaluation with a
// larger batch) it keeps the process from holding both phases' buffers at
// once. Buffers handed out are unaffected and may still be put back.
func (p *Pool) Trim() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c, l := range p.free {
		n += c * len(l)
		delete(p.free, c)
	}
	return n
}
