package knn

import "math"

// grid is a uniform grid over a cloud: the points of each cell are stored
// together (coordinates and original index), cells in x-major order.
type grid struct {
	lo    [3]float64
	side  float64
	dim   [3]int
	start []int32 // cell c holds sorted points start[c] .. start[c+1]-1
	idx   []int32
	xyz   []float32
}

// newGrid buckets the points into cells of about two points per cell of the
// bounding box, which leaves a few times k points in the cells around a
// centre on the surface-like clouds pcx handles.
func newGrid(points []float32, k int) *grid {
	n := len(points) / 3
	g := &grid{}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	g.lo = [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	for i := 0; i < n; i++ {
		for a := 0; a < 3; a++ {
			v := float64(points[3*i+a])
			g.lo[a] = math.Min(g.lo[a], v)
			hi[a] = math.Max(hi[a], v)
		}
	}
	ext := math.Max(hi[0]-g.lo[0], math.Max(hi[1]-g.lo[1], hi[2]-g.lo[2]))
	if ext == 0 {
		ext = 1
	}
	// Volume of the box with each side at least 1/64 of the longest, so that
	// flat clouds still get cells of a sensible size.
	vol := 1.0
	for a := 0; a < 3; a++ {
		vol *= math.Max(hi[a]-g.lo[a], ext/64)
	}
	per := 2.0
	g.side = math.Cbrt(vol * per / float64(n))
	cells := 1
	for a := 0; a < 3; a++ {
		g.dim[a] = max(1, int(math.Floor((hi[a]-g.lo[a])/g.side))+1)
		cells *= g.dim[a]
	}
	g.start = make([]int32, cells+1)
	cellOf := make([]int32, n)
	for i := 0; i < n; i++ {
		c := g.cell(points[3*i], points[3*i+1], points[3*i+2])
		cellOf[i] = int32(c)
		g.start[c+1]++
	}
	for c := 0; c < cells; c++ {
		g.start[c+1] += g.start[c]
	}
	g.idx = make([]int32, n)
	g.xyz = make([]float32, 3*n)
	fill := append([]int32(nil), g.start[:cells]...)
	for i := 0; i < n; i++ { // ascending i keeps each cell's points in index order
		c := cellOf[i]
		j := fill[c]
		fill[c]++
		g.idx[j] = int32(i)
		copy(g.xyz[3*j:3*j+3], points[3*i:3*i+3])
	}
	return g
}

// coord returns the cell coordinate of v on axis a, clamped to the grid.
func (g *grid) coord(v float32, a int) int {
	c := int(math.Floor((float64(v) - g.lo[a]) / g.side))
	return min(max(c, 0), g.dim[a]-1)
}

func (g *grid) cell(x, y, z float32) int {
	return (g.coord(x, 0)*g.dim[1]+g.coord(y, 1))*g.dim[2] + g.coord(z, 2)
}

// search walks rings of cells outwards from the query's cell until the k-th
// best distance is below the distance to any cell not yet visited.
func (g *grid) search(h *heap, qx, qy, qz float32) {
	q := [3]float32{qx, qy, qz}
	var c [3]int
	for a := 0; a < 3; a++ {
		c[a] = g.coord(q[a], a)
	}
	maxR := max(g.dim[0], g.dim[1], g.dim[2])
	for r := 0; r <= maxR; r++ {
		x0, x1 := max(c[0]-r, 0), min(c[0]+r, g.dim[0]-1)
		y0, y1 := max(c[1]-r, 0), min(c[1]+r, g.dim[1]-1)
		z0, z1 := max(c[2]-r, 0), min(c[2]+r, g.dim[2]-1)
		for x := x0; x <= x1; x++ {
			onX := x == c[0]-r || x == c[0]+r
			for y := y0; y <= y1; y++ {
				row := (x*g.dim[1] + y) * g.dim[2]
				if onX || y == c[1]-r || y == c[1]+r {
					// The whole z-run of this column is on the ring, and its
					// cells' points are contiguous.
					h.scan(g.xyz, g.idx, int(g.start[row+z0]), int(g.start[row+z1+1]), qx, qy, qz)
					continue
				}
				if z := c[2] - r; z >= 0 {
					h.scan(g.xyz, g.idx, int(g.start[row+z]), int(g.start[row+z+1]), qx, qy, qz)
				}
				if z := c[2] + r; r > 0 && z < g.dim[2] {
					h.scan(g.xyz, g.idx, int(g.start[row+z]), int(g.start[row+z+1]), qx, qy, qz)
				}
			}
		}
		if !h.full() {
			continue
		}
		// Distance from the query to the nearest face of the visited box that
		// has cells beyond it.
		bound := math.Inf(1)
		for a := 0; a < 3; a++ {
			if c[a]-r > 0 {
				bound = math.Min(bound, float64(q[a])-(g.lo[a]+float64(c[a]-r)*g.side))
			}
			if c[a]+r < g.dim[a]-1 {
				bound = math.Min(bound, g.lo[a]+float64(c[a]+r+1)*g.side-float64(q[a]))
			}
		}
		if math.IsInf(bound, 1) {
			return
		}
		// Points beyond the box are at least bound away; float32 rounding of
		// their distance is far below the margin.
		if bound > 0 && float64(math.Float32frombits(uint32(h.top()>>32))) < bound*bound*(1-1e-5) {
			return
		}
	}
}
