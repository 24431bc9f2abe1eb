package plot

import (
	"math"
	"math/rand/v2"
	"sort"
)

// vpTree is a vantage-point tree over the rows of a row-major float32 matrix,
// for exact k-nearest-neighbour search in Euclidean distance (Yianilos 1993;
// the structure bhtsne uses for t-SNE's input similarities).
type vpTree struct {
	data  []float32 // n rows of dim values
	dim   int
	nodes []vpNode
	root  int32
}

// vpNode is one vantage point: the points of the left subtree are at most
// radius from it, those of the right subtree at least radius.
type vpNode struct {
	point       int32
	radius      float64
	left, right int32 // node indices, -1 when absent
}

// dist returns the Euclidean distance between rows i and j.
func (t *vpTree) dist(i, j int) float64 {
	return math.Sqrt(sqDist(t.data[i*t.dim:(i+1)*t.dim], t.data[j*t.dim:(j+1)*t.dim]))
}

// sqDist returns the squared Euclidean distance of a and b (same length),
// accumulated in four float32 lanes and summed in float64.
func sqDist(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return float64(s0) + float64(s1) + float64(s2) + float64(s3)
}

// newVPTree builds the tree; rng picks the vantage points.
func newVPTree(data []float32, n, dim int, rng *rand.Rand) *vpTree {
	t := &vpTree{data: data, dim: dim, nodes: make([]vpNode, 0, n)}
	items := make([]int32, n)
	for i := range items {
		items[i] = int32(i)
	}
	ds := make([]float64, n)
	t.root = t.build(items, ds, rng)
	return t
}

// build makes the subtree over items (reordering it) and returns its node.
func (t *vpTree) build(items []int32, ds []float64, rng *rand.Rand) int32 {
	if len(items) == 0 {
		return -1
	}
	v := rng.IntN(len(items))
	items[0], items[v] = items[v], items[0]
	node := int32(len(t.nodes))
	t.nodes = append(t.nodes, vpNode{point: items[0], left: -1, right: -1})
	if len(items) == 1 {
		return node
	}
	rest := items[1:]
	for _, p := range rest {
		ds[p] = t.dist(int(items[0]), int(p))
	}
	sort.Slice(rest, func(a, b int) bool {
		da, db := ds[rest[a]], ds[rest[b]]
		if da != db {
			return da < db
		}
		return rest[a] < rest[b]
	})
	mid := len(rest) / 2
	radius := ds[rest[mid]]
	left := t.build(rest[:mid], ds, rng)
	right := t.build(rest[mid:], ds, rng)
	t.nodes[node].radius = radius
	t.nodes[node].left = left
	t.nodes[node].right = right
	return node
}

// neighbour is a candidate of a k-nearest-neighbour search.
type neighbour struct {
	dist  float64
	point int32
}

// worse orders candidates by distance, then index, so that searches are
// deterministic with ties.
func worse(a, b neighbour) bool {
	if a.dist != b.dist {
		return a.dist > b.dist
	}
	return a.point > b.point
}

// knnSearch holds one search's state: a max-heap of the best k so far.
type knnSearch struct {
	t     *vpTree
	query int
	k     int
	heap  []neighbour
	tau   float64
}

// search finds the k nearest rows to row q other than q itself and writes
// them, nearest first, to out (len k); buf is scratch of capacity ≥ k+1.
func (t *vpTree) search(q, k int, buf []neighbour, out []neighbour) {
	s := knnSearch{t: t, query: q, k: k, heap: buf[:0], tau: math.Inf(1)}
	s.visit(t.root)
	h := s.heap
	// Heap sort ascending into out.
	for m := len(h) - 1; m >= 0; m-- {
		out[m] = h[0]
		h[0] = h[m]
		h = h[:m]
		siftDown(h, 0)
	}
}

func (s *knnSearch) visit(n int32) {
	if n < 0 {
		return
	}
	nd := &s.t.nodes[n]
	d := s.t.dist(s.query, int(nd.point))
	if int(nd.point) != s.query {
		c := neighbour{dist: d, point: nd.point}
		if len(s.heap) < s.k {
			s.heap = append(s.heap, c)
			siftUp(s.heap, len(s.heap)-1)
		} else if worse(s.heap[0], c) {
			s.heap[0] = c
			siftDown(s.heap, 0)
		}
		if len(s.heap) == s.k {
			s.tau = s.heap[0].dist
		}
	}
	if nd.left < 0 && nd.right < 0 {
		return
	}
	if d < nd.radius {
		if d-s.tau <= nd.radius {
			s.visit(nd.left)
		}
		if d+s.tau >= nd.radius {
			s.visit(nd.right)
		}
	} else {
		if d+s.tau >= nd.radius {
			s.visit(nd.right)
		}
		if d-s.tau <= nd.radius {
			s.visit(nd.left)
		}
	}
}

func siftUp(h []neighbour, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []neighbour, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && worse(h[r], h[l]) {
			m = r
		}
		if !worse(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
