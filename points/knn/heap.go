package knn

import "math"

// A candidate is packed into one uint64: the bits of its squared distance
// (non-negative float32 bits order like the numbers) above its index, so that
// one integer comparison orders candidates by distance, then by index.
func key(d float32, i int32) uint64 { return uint64(math.Float32bits(d))<<32 | uint64(uint32(i)) }

const empty = math.MaxUint64

// heap holds the k best candidates seen so far, sorted ascending, so that
// its last element is the one to beat. It starts full of empty slots, which
// every real candidate beats. (For the k ≤ 64 of point grouping, a sorted
// array with binary search and one memmove per insertion beats a binary
// heap; see BenchmarkMethods.)
type heap struct {
	k int
	h []uint64
}

func newHeap(k int) *heap { return &heap{k: k, h: make([]uint64, k)} }

func (h *heap) reset() {
	for i := range h.h {
		h.h[i] = empty
	}
}

// top is the worst held candidate.
func (h *heap) top() uint64 { return h.h[len(h.h)-1] }

// full reports whether k real candidates are held.
func (h *heap) full() bool { return h.top() != empty }

// replaceTop inserts a candidate better than the worst, which drops out.
func (h *heap) replaceTop(v uint64) {
	a := h.h
	lo, hi := 0, len(a)-1 // a[hi] > v
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] > v {
			hi = m
		} else {
			lo = m + 1
		}
	}
	copy(a[lo+1:], a[lo:len(a)-1])
	a[lo] = v
}

// sorted writes the held indices into out, nearest first.
func (h *heap) sorted(out []int32) {
	for i, v := range h.h {
		out[i] = int32(uint32(v))
	}
}

// scan offers points lo..hi-1 of a coordinate array whose original indices
// are idx (or the positions themselves when idx is nil).
func (h *heap) scan(xyz []float32, idx []int32, lo, hi int, qx, qy, qz float32) {
	top := h.top()
	p := xyz[3*lo : 3*hi]
	for j := 0; j < hi-lo; j++ {
		d := dist2(p[3*j], p[3*j+1], p[3*j+2], qx, qy, qz)
		var i int32
		if idx != nil {
			i = idx[lo+j]
		} else {
			i = int32(lo + j)
		}
		if v := key(d, i); v < top {
			h.replaceTop(v)
			top = h.top()
		}
	}
}
