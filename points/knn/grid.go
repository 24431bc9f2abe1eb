package knn

import "math"

// grid is a uniform grid over a cloud: the points of each cell are stored
// together (coordinates and original index), cells in x-major order.
type grid struct {
	lo    [3]float64
	side  float64
	inv   float64 // 1/side
	dim   [3]int
	slack float64 // far above the rounding error of a cell's bounds
	start []int32 // cell c holds sorted points start[c] .. start[c+1]-1
	idx   []int32
	xyz   []float32

	cellOf, fill []int32 // scratch for build
}

// newGrid buckets the points into cells of about two points per cell of the
// bounding box, which leaves a few times k points in the cells around a
// centre on the surface-like clouds pcx handles.
func newGrid(points []float32, k int) *grid {
	g := &grid{}
	g.build(points)
	return g
}

// resize returns s with length n, reusing its storage when it is large
// enough; the contents are not cleared.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// build fills g for a cloud of (finite) points, reusing g's storage.
func (g *grid) build(points []float32) {
	n := len(points) / 3
	lo32 := [3]float32{points[0], points[1], points[2]}
	hi32 := lo32
	for i := 3; i < len(points); i += 3 {
		p := points[i : i+3 : i+3]
		for a := 0; a < 3; a++ {
			v := p[a]
			if v < lo32[a] {
				lo32[a] = v
			}
			if v > hi32[a] {
				hi32[a] = v
			}
		}
	}
	var hi [3]float64
	ext, mag := 0.0, 0.0
	for a := 0; a < 3; a++ {
		g.lo[a], hi[a] = float64(lo32[a]), float64(hi32[a])
		ext = max(ext, hi[a]-g.lo[a])
		mag = max(mag, math.Abs(g.lo[a]), math.Abs(hi[a]))
	}
	if ext == 0 {
		ext = 1
	}
	// Volume of the box with each side at least 1/64 of the longest, so that
	// flat clouds still get cells of a sensible size.
	vol := 1.0
	for a := 0; a < 3; a++ {
		vol *= max(hi[a]-g.lo[a], ext/64)
	}
	per := 2.0
	g.side = math.Cbrt(vol * per / float64(n))
	g.inv = 1 / g.side
	g.slack = 1e-12 * (mag + g.side)
	cells := 1
	for a := 0; a < 3; a++ {
		g.dim[a] = max(1, int(math.Floor((hi[a]-g.lo[a])/g.side))+1)
		cells *= g.dim[a]
	}
	g.start = resize(g.start, cells+1)
	clear(g.start)
	g.cellOf = resize(g.cellOf, n)
	for i := 0; i < n; i++ {
		c := g.cell(points[3*i], points[3*i+1], points[3*i+2])
		g.cellOf[i] = int32(c)
		g.start[c+1]++
	}
	for c := 0; c < cells; c++ {
		g.start[c+1] += g.start[c]
	}
	g.idx = resize(g.idx, n)
	g.xyz = resize(g.xyz, 3*n)
	g.fill = resize(g.fill, cells)
	copy(g.fill, g.start[:cells])
	for i, c := range g.cellOf { // ascending i keeps each cell's points in index order
		j := g.fill[c]
		g.fill[c]++
		g.idx[j] = int32(i)
		copy(g.xyz[3*j:3*j+3], points[3*i:3*i+3])
	}
}

// coord returns the cell coordinate of v on axis a, clamped to the grid.
func (g *grid) coord(v float32, a int) int {
	return g.coordf(float64(v), a)
}

func (g *grid) cell(x, y, z float32) int {
	return (g.coord(x, 0)*g.dim[1]+g.coord(y, 1))*g.dim[2] + g.coord(z, 2)
}

// coordf is coord for a float64 position.
func (g *grid) coordf(v float64, a int) int {
	f := (v - g.lo[a]) * g.inv
	if !(f > 0) { // also NaN
		return 0
	}
	if f >= float64(g.dim[a]-1) {
		return g.dim[a] - 1
	}
	return int(f) // truncates, which is floor here
}

// gap is the distance along axis a from v to cell x, less the slack that
// covers rounding in the cells' bounds (0 inside the cell).
func (g *grid) gap(v float64, x, a int) float64 {
	cl := g.lo[a] + float64(x)*g.side
	d := max(cl-v, v-(cl+g.side)) - g.slack
	if d > 0 {
		return d
	}
	return 0
}

// ring offers the cells at Chebyshev distance r from cell c.
func (g *grid) ring(s *selector, c [3]int, r int, qx, qy, qz float32) {
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
				s.scan(g.xyz, g.idx, int(g.start[row+z0]), int(g.start[row+z1+1]), qx, qy, qz)
				continue
			}
			if z := c[2] - r; z >= 0 {
				s.scan(g.xyz, g.idx, int(g.start[row+z]), int(g.start[row+z+1]), qx, qy, qz)
			}
			if z := c[2] + r; r > 0 && z < g.dim[2] {
				s.scan(g.xyz, g.idx, int(g.start[row+z]), int(g.start[row+z+1]), qx, qy, qz)
			}
		}
	}
}

// search first grows a cube of cells around the query's cell, ring by ring,
// until it holds k points; the k-th nearest of those bounds the distance of
// the true k-th nearest. It then offers the points of every cell outside the
// cube that comes within that distance of the query, column by column: the
// cells of one column that do are one contiguous run.
func (g *grid) search(s *selector, qx, qy, qz float32) {
	q := [3]float32{qx, qy, qz}
	var c [3]int
	for a := 0; a < 3; a++ {
		c[a] = g.coord(q[a], a)
	}
	maxR := max(g.dim[0], g.dim[1], g.dim[2])
	r := 0
	for ; ; r++ {
		g.ring(s, c, r, qx, qy, qz)
		if s.n >= s.k || r >= maxR {
			break
		}
	}
	if c[0]-r <= 0 && c[1]-r <= 0 && c[2]-r <= 0 &&
		c[0]+r >= g.dim[0]-1 && c[1]+r >= g.dim[1]-1 && c[2]+r >= g.dim[2]-1 {
		return // every cell offered
	}
	s.shrink()
	// A point can beat the k-th only if its float32 squared distance is at
	// most the k-th's, so its exact one is at most lim: the relative margin
	// covers float32 rounding, the absolute one underflow.
	lim := (float64(s.kth()) + 1e-40) * (1 + 1e-5)
	rad := math.Sqrt(lim) + g.slack
	qf := [3]float64{float64(qx), float64(qy), float64(qz)}
	x0, x1 := g.coordf(qf[0]-rad, 0), g.coordf(qf[0]+rad, 0)
	y0, y1 := g.coordf(qf[1]-rad, 1), g.coordf(qf[1]+rad, 1)
	gys := resize(s.gaps, y1-y0+1)
	s.gaps = gys
	for y := y0; y <= y1; y++ {
		gy := g.gap(qf[1], y, 1)
		gys[y-y0] = gy * gy
	}
	for x := x0; x <= x1; x++ {
		gx := g.gap(qf[0], x, 0)
		gx *= gx
		inX := x >= c[0]-r && x <= c[0]+r
		for y := y0; y <= y1; y++ {
			rem := lim - gx - gys[y-y0]
			if rem < 0 {
				continue
			}
			rz := math.Sqrt(rem) + g.slack
			z0, z1 := g.coordf(qf[2]-rz, 2), g.coordf(qf[2]+rz, 2)
			row := (x*g.dim[1] + y) * g.dim[2]
			if inX && y >= c[1]-r && y <= c[1]+r {
				// The cube's cells of this column are done.
				if e := min(z1, c[2]-r-1); z0 <= e {
					s.scan(g.xyz, g.idx, int(g.start[row+z0]), int(g.start[row+e+1]), qx, qy, qz)
				}
				if b := max(z0, c[2]+r+1); b <= z1 {
					s.scan(g.xyz, g.idx, int(g.start[row+b]), int(g.start[row+z1+1]), qx, qy, qz)
				}
				continue
			}
			s.scan(g.xyz, g.idx, int(g.start[row+z0]), int(g.start[row+z1+1]), qx, qy, qz)
		}
	}
}
