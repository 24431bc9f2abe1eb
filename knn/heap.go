package knn

import (
	"math"
	"slices"
)

// A candidate is packed into one uint64: the bits of its squared distance
// (non-negative float32 bits order like the numbers) above its index, so that
// one integer comparison orders candidates by distance, then by index.
func key(d float32, i int32) uint64 { return uint64(math.Float32bits(d))<<32 | uint64(uint32(i)) }

const empty = math.MaxUint64

// heap is a bounded max-heap of packed candidates holding the k best seen so
// far. It starts full of empty slots, which every real candidate beats.
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
func (h *heap) top() uint64 { return h.h[0] }

// full reports whether k real candidates are held.
func (h *heap) full() bool { return h.h[0] != empty }

// replaceTop replaces the worst candidate by a better one.
func (h *heap) replaceTop(v uint64) {
	a := h.h
	n := len(a)
	j := 0
	for {
		c := 2*j + 1
		if c >= n {
			break
		}
		if c+1 < n && a[c] < a[c+1] {
			c++
		}
		if v >= a[c] {
			break
		}
		a[j] = a[c]
		j = c
	}
	a[j] = v
}

// sorted writes the held indices into out, nearest first.
func (h *heap) sorted(out []int32) {
	slices.Sort(h.h)
	for i, v := range h.h {
		out[i] = int32(uint32(v))
	}
}

// scan offers points lo..hi-1 of a coordinate array whose original indices
// are idx (or the positions themselves when idx is nil).
func (h *heap) scan(xyz []float32, idx []int32, lo, hi int, qx, qy, qz float32) {
	top := h.h[0]
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
			top = h.h[0]
		}
	}
}
