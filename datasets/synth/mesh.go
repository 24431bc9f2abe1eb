package synth

import (
	"math"

	"github.com/pcx-dev/pcx/pointcloud"
)

// mesh is the triangle mesh the shape builders work on: float64 vertices,
// three per point, and three vertex indices per triangle, wound so that the
// normal (b-a)×(c-a) points out of the solid. Transform methods change the
// mesh in place and return it, so that parts can be built in one expression:
//
//	m.add(cylinder(0.02, 0.4, 12).move(x, 0, z))
type mesh struct {
	v []float64
	f []int32
}

// numVerts returns the number of vertices.
func (m *mesh) numVerts() int { return len(m.v) / 3 }

// vertex appends a vertex and returns its index.
func (m *mesh) vertex(x, y, z float64) int32 {
	m.v = append(m.v, x, y, z)
	return int32(m.numVerts() - 1)
}

// tri appends a triangle.
func (m *mesh) tri(a, b, c int32) { m.f = append(m.f, a, b, c) }

// add appends copies of the parts to m and returns m.
func (m *mesh) add(parts ...*mesh) *mesh {
	for _, p := range parts {
		off := int32(m.numVerts())
		m.v = append(m.v, p.v...)
		for _, i := range p.f {
			m.f = append(m.f, i+off)
		}
	}
	return m
}

// linear applies the 3×3 matrix a (row-major) to every vertex. A matrix with
// a negative determinant would turn the mesh inside out; callers use only
// rotations and positive scales.
func (m *mesh) linear(a [9]float64) *mesh {
	for i := 0; i+2 < len(m.v); i += 3 {
		x, y, z := m.v[i], m.v[i+1], m.v[i+2]
		m.v[i] = a[0]*x + a[1]*y + a[2]*z
		m.v[i+1] = a[3]*x + a[4]*y + a[5]*z
		m.v[i+2] = a[6]*x + a[7]*y + a[8]*z
	}
	return m
}

// move translates the mesh.
func (m *mesh) move(x, y, z float64) *mesh {
	for i := 0; i+2 < len(m.v); i += 3 {
		m.v[i] += x
		m.v[i+1] += y
		m.v[i+2] += z
	}
	return m
}

// scale multiplies each axis by a positive factor.
func (m *mesh) scale(x, y, z float64) *mesh {
	return m.linear([9]float64{x, 0, 0, 0, y, 0, 0, 0, z})
}

// rotX rotates by a radians about the x axis (y towards z).
func (m *mesh) rotX(a float64) *mesh {
	c, s := math.Cos(a), math.Sin(a)
	return m.linear([9]float64{1, 0, 0, 0, c, -s, 0, s, c})
}

// rotY rotates by a radians about the y axis, in the sense in which revolve
// lays out its angle: the point at angle u moves to angle u+a.
func (m *mesh) rotY(a float64) *mesh {
	c, s := math.Cos(a), math.Sin(a)
	return m.linear([9]float64{c, 0, s, 0, 1, 0, -s, 0, c})
}

// rotZ rotates by a radians about the z axis (x towards y).
func (m *mesh) rotZ(a float64) *mesh {
	c, s := math.Cos(a), math.Sin(a)
	return m.linear([9]float64{c, -s, 0, s, c, 0, 0, 0, 1})
}

// alignY rotates the mesh so that its +y axis points along d (which need not
// be unit length but must not be zero).
func (m *mesh) alignY(d [3]float64) *mesh {
	d = unit(d)
	a := [3]float64{1, 0, 0}
	if math.Abs(d[0]) > 0.9 {
		a = [3]float64{0, 0, 1}
	}
	k := dot(a, d)
	u := unit([3]float64{a[0] - k*d[0], a[1] - k*d[1], a[2] - k*d[2]})
	w := cross(u, d)
	// Columns u, d, w: x maps to u, y to d, z to w, a proper rotation.
	return m.linear([9]float64{u[0], d[0], w[0], u[1], d[1], w[1], u[2], d[2], w[2]})
}

// bounds returns the per-axis minimum and maximum of the vertices.
func (m *mesh) bounds() (lo, hi [3]float64) {
	for k := range 3 {
		lo[k], hi[k] = math.Inf(1), math.Inf(-1)
	}
	for i := 0; i+2 < len(m.v); i += 3 {
		for k := range 3 {
			lo[k] = math.Min(lo[k], m.v[i+k])
			hi[k] = math.Max(hi[k], m.v[i+k])
		}
	}
	return lo, hi
}

// cloud converts the mesh to a pointcloud mesh (float32 vertices with faces).
func (m *mesh) cloud() *pointcloud.Cloud {
	c := &pointcloud.Cloud{XYZ: make([]float32, len(m.v)), Faces: append([]int32(nil), m.f...)}
	for i, v := range m.v {
		c.XYZ[i] = float32(v)
	}
	return c
}

func dot(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func unit(a [3]float64) [3]float64 {
	l := math.Sqrt(dot(a, a))
	return [3]float64{a[0] / l, a[1] / l, a[2] / l}
}

// box returns a closed axis-aligned box of the given size centred on the
// origin.
func box(sx, sy, sz float64) *mesh {
	return block(-sx/2, -sy/2, -sz/2, sx/2, sy/2, sz/2)
}

// block returns a closed axis-aligned box between two opposite corners.
func block(x0, y0, z0, x1, y1, z1 float64) *mesh {
	m := &mesh{v: make([]float64, 0, 24), f: make([]int32, 0, 36)}
	// Vertex i has x = x1 if bit 0 is set, y = y1 if bit 1, z = z1 if bit 2.
	for i := range 8 {
		x, y, z := x0, y0, z0
		if i&1 != 0 {
			x = x1
		}
		if i&2 != 0 {
			y = y1
		}
		if i&4 != 0 {
			z = z1
		}
		m.vertex(x, y, z)
	}
	m.f = append(m.f,
		0, 4, 6, 0, 6, 2, // -x
		1, 3, 7, 1, 7, 5, // +x
		0, 1, 5, 0, 5, 4, // -y
		2, 6, 7, 2, 7, 3, // +y
		0, 2, 3, 0, 3, 1, // -z
		4, 5, 7, 4, 7, 6, // +z
	)
	return m
}

// revolve sweeps a profile of (radius, height) points about the y axis
// through arc radians in seg steps. A point with radius 0 becomes a single
// pole vertex (only the first and last points may be poles). With loop the
// profile is closed back from its last point to its first (a torus-like
// ring). The surface faces the right-hand side of the profile's direction of
// travel: a profile that runs from the bottom pole up the outside to the top
// pole gives an outward-facing closed solid when arc is a full turn.
func revolve(prof [][2]float64, seg int, arc float64, loop bool) *mesh {
	full := arc >= 2*math.Pi-1e-9
	cols := seg
	if !full {
		cols = seg + 1
	}
	m := &mesh{}
	idx := make([][]int32, len(prof))
	for i, p := range prof {
		if p[0] == 0 {
			idx[i] = []int32{m.vertex(0, p[1], 0)}
			continue
		}
		idx[i] = make([]int32, cols)
		for j := range cols {
			th := arc * float64(j) / float64(seg)
			idx[i][j] = m.vertex(p[0]*math.Cos(th), p[1], -p[0]*math.Sin(th))
		}
	}
	at := func(i, j int) int32 {
		if len(idx[i]) == 1 {
			return idx[i][0]
		}
		if full {
			j %= seg
		}
		return idx[i][j]
	}
	bands := len(prof) - 1
	if loop {
		bands = len(prof)
	}
	for i := range bands {
		i2 := (i + 1) % len(prof)
		pa, pb := len(idx[i]) == 1, len(idx[i2]) == 1
		if pa && pb {
			continue
		}
		for j := range seg {
			a, b, c, d := at(i, j), at(i, j+1), at(i2, j+1), at(i2, j)
			if !pa {
				m.tri(a, b, c)
			}
			if !pb {
				m.tri(a, c, d)
			}
		}
	}
	return m
}

const fullTurn = 2 * math.Pi

// cylinder returns a closed cylinder of radius r about the y axis from y=0 to
// y=h.
func cylinder(r, h float64, seg int) *mesh {
	return revolve([][2]float64{{0, 0}, {r, 0}, {r, h}, {0, h}}, seg, fullTurn, false)
}

// frustum returns a closed truncated cone about the y axis with radius r0 at
// y=0 and r1 at y=h; r1 = 0 gives a cone.
func frustum(r0, r1, h float64, seg int) *mesh {
	if r1 == 0 {
		return revolve([][2]float64{{0, 0}, {r0, 0}, {0, h}}, seg, fullTurn, false)
	}
	return revolve([][2]float64{{0, 0}, {r0, 0}, {r1, h}, {0, h}}, seg, fullTurn, false)
}

// sphere returns a closed UV sphere of radius r centred on the origin, with
// seg segments around and seg/2 rings from pole to pole.
func sphere(r float64, seg int) *mesh {
	rings := max(seg/2, 2)
	prof := make([][2]float64, rings+1)
	for k := range prof {
		phi := -math.Pi/2 + math.Pi*float64(k)/float64(rings)
		prof[k] = [2]float64{r * math.Cos(phi), r * math.Sin(phi)}
	}
	prof[0][0], prof[rings][0] = 0, 0
	return revolve(prof, seg, fullTurn, false)
}

// capsule returns a closed capsule about the y axis, centred on the origin: a
// cylinder of radius r and length h capped by hemispheres.
func capsule(r, h float64, seg int) *mesh {
	q := max(seg/4, 2)
	var prof [][2]float64
	for k := 0; k <= q; k++ {
		phi := -math.Pi/2 + math.Pi/2*float64(k)/float64(q)
		prof = append(prof, [2]float64{r * math.Cos(phi), -h/2 + r*math.Sin(phi)})
	}
	for k := 0; k <= q; k++ {
		phi := math.Pi / 2 * float64(k) / float64(q)
		prof = append(prof, [2]float64{r * math.Cos(phi), h/2 + r*math.Sin(phi)})
	}
	prof[0][0], prof[len(prof)-1][0] = 0, 0
	return revolve(prof, seg, fullTurn, false)
}

// torus returns a torus about the y axis with major radius R and tube radius
// r, swept through arc radians starting at +x (a full turn gives a closed
// torus; less gives an open, bent tube).
func torus(R, r float64, seg, tube int, arc float64) *mesh {
	prof := make([][2]float64, tube)
	for k := range prof {
		v := 2 * math.Pi * float64(k) / float64(tube)
		prof[k] = [2]float64{R + r*math.Cos(v), r * math.Sin(v)}
	}
	return revolve(prof, seg, arc, true)
}

// rod returns a closed cylinder of radius r from point p to point q.
func rod(p, q [3]float64, r float64, seg int) *mesh {
	d := [3]float64{q[0] - p[0], q[1] - p[1], q[2] - p[2]}
	l := math.Sqrt(dot(d, d))
	return cylinder(r, l, seg).alignY(d).move(p[0], p[1], p[2])
}

// vessel returns a closed, open-topped thin-walled solid of revolution (cup,
// bowl, vase): outer is the outside profile from the bottom centre (radius
// 0) up to the rim, and the wall is t thick, offset inwards along the
// profile's normals with mitred corners.
func vessel(outer [][2]float64, t float64, seg int) *mesh {
	n := len(outer)
	segNormal := func(i int) [2]float64 { // normal of segment i → i+1, facing outwards
		dr, dy := outer[i+1][0]-outer[i][0], outer[i+1][1]-outer[i][1]
		l := math.Hypot(dr, dy)
		return [2]float64{dy / l, -dr / l}
	}
	inner := make([][2]float64, n)
	for i := range outer {
		var nv [2]float64
		switch i {
		case 0:
			nv = segNormal(0)
		case n - 1:
			nv = segNormal(n - 2)
		default:
			a, b := segNormal(i-1), segNormal(i)
			den := math.Max(1+a[0]*b[0]+a[1]*b[1], 0.3)
			nv = [2]float64{(a[0] + b[0]) / den, (a[1] + b[1]) / den}
		}
		inner[i] = [2]float64{outer[i][0] - t*nv[0], outer[i][1] - t*nv[1]}
		if i == 0 {
			inner[i][0] = 0
		} else if inner[i][0] < t/4 {
			inner[i][0] = t / 4
		}
	}
	prof := append([][2]float64(nil), outer...)
	for i := n - 1; i >= 0; i-- {
		prof = append(prof, inner[i])
	}
	return revolve(prof, seg, fullTurn, false)
}

// shell returns a closed thin-walled frustum open at both ends (a lamp
// shade): radius r0 at y=0, r1 at y=h, wall thickness t.
func shell(r0, r1, h, t float64, seg int) *mesh {
	return revolve([][2]float64{{r0, 0}, {r1, h}, {r1 - t, h}, {r0 - t, 0}}, seg, fullTurn, true)
}
