package nn

import "sync"

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
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{free: map[int][][]float32{}} }

// get returns a zeroed buffer of n values.
func (p *Pool) get(n int) []float32 {
	p.mu.Lock()
	l := p.free[n]
	if k := len(l); k > 0 {
		b := l[k-1]
		p.free[n] = l[:k-1]
		p.mu.Unlock()
		clear(b)
		return b
	}
	p.Allocated++
	p.mu.Unlock()
	return make([]float32, n)
}

func (p *Pool) put(b []float32) {
	p.mu.Lock()
	p.free[len(b)] = append(p.free[len(b)], b)
	p.mu.Unlock()
}
