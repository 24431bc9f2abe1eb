package knn

import (
	"math"
	"slices"
)

// A candidate is packed into one uint64: the bits of its squared distance
// (non-negative float32 bits order like the numbers) above its index, so that
// one integer comparison orders candidates by distance, then by index. Keys
// of different points differ, so the k smallest keys, and their order, are
// the same whichever way they are found.
func key(d float32, i int32) uint64 { return uint64(math.Float32bits(d))<<32 | uint64(uint32(i)) }

const empty = math.MaxUint64

// selector collects one query's candidates and keeps its k smallest keys.
// Candidates are appended to a buffer without ordering them; only those
// below a threshold, the k-th smallest key known so far, are kept. When the
// buffer is full, or when a search needs the k-th distance, shrink selects
// the k smallest in linear time and lowers the threshold to the k-th. The
// k survivors are sorted once at the end. (This replaces a sorted array
// with one binary search and memmove per accepted candidate, which was most
// of the grouping's time: BenchmarkGroupSphere.)
type selector struct {
	k     int
	limit int      // shrink when this many candidates are held
	buf   []uint64 // candidates buf[:n]; one spare slot for branch-free appends
	n     int
	thr   uint64 // candidates at or above thr cannot be among the k nearest

	gaps []float64 // scratch for grid.search
}

func newSelector(k int) *selector {
	limit := max(4*k, 128)
	return &selector{k: k, limit: limit, buf: make([]uint64, limit+1)}
}

func (s *selector) reset() { s.n, s.thr = 0, empty }

// scan offers points lo..hi-1 of a coordinate array whose original indices
// are idx (or the positions themselves when idx is nil).
func (s *selector) scan(xyz []float32, idx []int32, lo, hi int, qx, qy, qz float32) {
	p := xyz[3*lo : 3*hi]
	buf, n, thr, limit := s.buf, s.n, s.thr, s.limit
	if idx != nil {
		ix := idx[lo:hi]
		for j := range ix {
			v := key(dist2(p[3*j], p[3*j+1], p[3*j+2], qx, qy, qz), ix[j])
			buf[n] = v
			if v < thr {
				n++
			}
			if n == limit {
				s.n = n
				s.shrink()
				n, thr = s.n, s.thr
			}
		}
	} else {
		for j := 0; j < hi-lo; j++ {
			v := key(dist2(p[3*j], p[3*j+1], p[3*j+2], qx, qy, qz), int32(lo+j))
			buf[n] = v
			if v < thr {
				n++
			}
			if n == limit {
				s.n = n
				s.shrink()
				n, thr = s.n, s.thr
			}
		}
	}
	s.n = n
}

// shrink keeps only the k smallest held candidates once at least k are
// held, and makes the k-th of them the threshold.
func (s *selector) shrink() {
	if s.n < s.k {
		return
	}
	selectK(s.buf[:s.n], s.k)
	s.n = s.k
	s.thr = s.buf[s.k-1]
}

// kth is the k-th smallest squared distance; call it after shrink, with k
// candidates held.
func (s *selector) kth() float32 { return math.Float32frombits(uint32(s.thr >> 32)) }

// sorted writes the k nearest indices into out, nearest first.
func (s *selector) sorted(out []int32) {
	if s.n > 64 || s.k > 48 {
		s.shrink()
		a := s.buf[:s.k]
		slices.Sort(a)
		for i, v := range a {
			out[i] = int32(uint32(v))
		}
		return
	}
	rank(s.buf[:s.n], out[:s.k])
}

// rank writes the index of each of the len(out) smallest of the distinct
// keys a to out at its rank, the number of smaller keys. Keys are below
// 2^63 (a squared distance's sign bit is clear), so w-v has its top bit set
// exactly when w < v: counting takes no branches, which for a few dozen keys
// beats any comparison sort. Four keys are ranked in each pass over a.
func rank(a []uint64, out []int32) {
	k := uint64(len(out))
	i := 0
	for ; i+4 <= len(a); i += 4 {
		v0, v1, v2, v3 := a[i], a[i+1], a[i+2], a[i+3]
		r0, r1, r2, r3 := count4(a, v0, v1, v2, v3)
		if r0 < k {
			out[r0] = int32(uint32(v0))
		}
		if r1 < k {
			out[r1] = int32(uint32(v1))
		}
		if r2 < k {
			out[r2] = int32(uint32(v2))
		}
		if r3 < k {
			out[r3] = int32(uint32(v3))
		}
	}
	for ; i < len(a); i++ {
		v := a[i]
		var r uint64
		for _, w := range a {
			r += (w - v) >> 63
		}
		if r < k {
			out[r] = int32(uint32(v))
		}
	}
}

// count4 counts the keys of a below each of v0..v3 (see rank).
func count4(a []uint64, v0, v1, v2, v3 uint64) (r0, r1, r2, r3 uint64) {
	for _, w := range a {
		r0 += (w - v0) >> 63
		r1 += (w - v1) >> 63
		r2 += (w - v2) >> 63
		r3 += (w - v3) >> 63
	}
	return
}

// selectK reorders the distinct values a (each below 2^63) so that a[:k]
// holds the k smallest and a[k-1] is the largest of them: quickselect with
// median-of-three pivots and a partition without branches on the data, then
// an insertion sort of the last short range.
func selectK(a []uint64, k int) {
	t := k - 1
	lo, hi := 0, len(a)-1
	for rounds := 0; hi-lo > 12; rounds++ {
		if rounds > 64 { // pathological pivots: fall back to a sort
			slices.Sort(a[lo : hi+1])
			return
		}
		m := int(uint(lo+hi) >> 1)
		if a[m] < a[lo] {
			a[m], a[lo] = a[lo], a[m]
		}
		if a[hi] < a[m] {
			a[hi], a[m] = a[m], a[hi]
			if a[m] < a[lo] {
				a[m], a[lo] = a[lo], a[m]
			}
		}
		// Park the pivot at hi, move the values below it to the front
		// (Lomuto: swap every value, advance past it if it is smaller),
		// then put the pivot between the two parts.
		p := a[m]
		a[m], a[hi] = a[hi], p
		b := a[lo:hi]
		j := 0
		for i, v := range b {
			b[i] = b[j]
			b[j] = v
			j += int((v - p) >> 63)
		}
		j += lo
		a[j], a[hi] = p, a[j]
		switch {
		case t < j:
			hi = j - 1
		case t > j:
			lo = j + 1
		default:
			return
		}
	}
	for i := lo + 1; i <= hi; i++ {
		v := a[i]
		j := i
		for ; j > lo && a[j-1] > v; j-- {
			a[j] = a[j-1]
		}
		a[j] = v
	}
}
