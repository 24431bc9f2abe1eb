package plot

import "math"

// quadTree is a Barnes-Hut tree over the points of a 2-D embedding: square
// cells split into four, each keeping the count and the coordinate sums of
// its points (so its centre of mass). Identical points share a leaf.
type quadTree struct {
	nodes []quadNode
}

type quadNode struct {
	cx, cy, half float64 // centre and half side of the cell
	sx, sy       float64 // coordinate sums of the points inside; centre of mass after finish
	count        int32   // points inside
	child        int32   // first of four children, -1 for a leaf
	point        int32   // a leaf's point, -1 when empty
}

// maxQuadDepth bounds splitting, so that points closer than float64 can
// separate end up in one leaf rather than recursing forever.
const maxQuadDepth = 60

// build refills the tree with the points y (x0, y0, x1, y1, ...).
func (t *quadTree) build(y []float64) {
	n := len(y) / 2
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for i := 0; i < n; i++ {
		minX = math.Min(minX, y[2*i])
		maxX = math.Max(maxX, y[2*i])
		minY = math.Min(minY, y[2*i+1])
		maxY = math.Max(maxY, y[2*i+1])
	}
	half := math.Max(maxX-minX, maxY-minY)/2*(1+1e-6) + 1e-12
	t.nodes = append(t.nodes[:0], quadNode{cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, half: half, child: -1, point: -1})
	for i := 0; i < n; i++ {
		t.insert(int32(i), y[2*i], y[2*i+1], y)
	}
	for i := range t.nodes {
		nd := &t.nodes[i]
		if nd.count > 0 {
			nd.sx /= float64(nd.count)
			nd.sy /= float64(nd.count)
		}
	}
}

func quadrant(nd *quadNode, x, y float64) int32 {
	var k int32
	if x >= nd.cx {
		k = 1
	}
	if y >= nd.cy {
		k += 2
	}
	return k
}

func (t *quadTree) insert(p int32, x, y float64, ys []float64) {
	n := int32(0)
	for depth := 0; ; depth++ {
		nd := &t.nodes[n]
		if nd.child < 0 {
			if nd.count == 0 {
				nd.point, nd.count, nd.sx, nd.sy = p, 1, x, y
				return
			}
			qx, qy := ys[2*nd.point], ys[2*nd.point+1]
			if (qx == x && qy == y) || depth >= maxQuadDepth {
				nd.count++
				nd.sx += x
				nd.sy += y
				return
			}
			// Split: the leaf's points move to the child holding them.
			c := int32(len(t.nodes))
			h := nd.half / 2
			cx, cy := nd.cx, nd.cy
			for k := 0; k < 4; k++ {
				ox, oy := -h, -h
				if k&1 != 0 {
					ox = h
				}
				if k&2 != 0 {
					oy = h
				}
				t.nodes = append(t.nodes, quadNode{cx: cx + ox, cy: cy + oy, half: h, child: -1, point: -1})
			}
			nd = &t.nodes[n]
			moved := &t.nodes[c+quadrant(nd, qx, qy)]
			moved.point, moved.count, moved.sx, moved.sy = nd.point, nd.count, nd.sx, nd.sy
			nd.child, nd.point = c, -1
		}
		nd.count++
		nd.sx += x
		nd.sy += y
		n = nd.child + quadrant(nd, x, y)
	}
}

// repulsion returns, for the point (x, y), the Barnes-Hut estimates of
// Σ_j q_ij (the point's share of the normalisation Z, without itself) and of
// Σ_j q_ij² (y_i − y_j), with q_ij = 1/(1+|y_i−y_j|²). A cell is summarised
// by its centre of mass when its side is below theta times its distance.
// stack is scratch, returned for reuse.
func (t *quadTree) repulsion(x, y, theta float64, stack []int32) (z, fx, fy float64, _ []int32) {
	theta2 := theta * theta
	stack = append(stack[:0], 0)
	for len(stack) > 0 {
		nd := &t.nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if nd.count == 0 {
			continue
		}
		dx, dy := x-nd.sx, y-nd.sy
		d2 := dx*dx + dy*dy
		if nd.child < 0 {
			if d2 == 0 {
				// The point's own leaf: its duplicates count fully, with no force.
				z += float64(nd.count - 1)
				continue
			}
		} else if side := 2 * nd.half; side*side >= theta2*d2 {
			stack = append(stack, nd.child, nd.child+1, nd.child+2, nd.child+3)
			continue
		}
		q := 1 / (1 + d2)
		c := float64(nd.count)
		z += c * q
		fx += c * q * q * dx
		fy += c * q * q * dy
	}
	return z, fx, fy, stack
}
