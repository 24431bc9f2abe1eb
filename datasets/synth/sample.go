package synth

import (
	"math"
	"slices"
	"sort"

	"github.com/pcx-dev/pcx/pointcloud"
)

// sample makes one cloud of n points for class from the sample seed s.
func sample(class int, s uint64, n int, p Perturb) ([]float32, error) {
	m := buildShape(class, mix(s^streamShape))
	r := rnd{pointcloud.NewRand(mix(s ^ streamPerturb))}
	if p.Scale > 0 {
		m.scale(r.u(1-p.Scale, 1+p.Scale), r.u(1-p.Scale, 1+p.Scale), r.u(1-p.Scale, 1+p.Scale))
	}
	nb := 0
	if p.Background > 0 {
		nb = min(int(math.Round(p.Background*float64(n))), n-1)
	}
	no := n - nb
	ns := no
	if p.Occlusion > 0 {
		ns = int(math.Ceil(float64(no) / (1 - r.u(0, p.Occlusion))))
	}
	obj, err := pointcloud.SampleSurface(m.cloud(), ns, mix(s^streamSurface))
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, 3*n)
	if ns > no {
		out = occlude(out, obj.XYZ, no, r)
	} else {
		out = append(out, obj.XYZ...)
	}
	if nb > 0 {
		lo, hi := m.bounds()
		bg, err := pointcloud.SampleSurface(clutter(r, lo, hi).cloud(), nb, mix(s^streamClutter))
		if err != nil {
			return nil, err
		}
		out = append(out, bg.XYZ...)
	}
	if p.Rotate || p.Tilt > 0 {
		rotate(out, r, p)
	}
	// Mix object and clutter points, so that a prefix is a fair subsample.
	for i := n - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		for k := range 3 {
			out[3*i+k], out[3*j+k] = out[3*j+k], out[3*i+k]
		}
	}
	pointcloud.Normalize(out)
	if p.Jitter > 0 {
		for i := range out {
			out[i] += float32(math.Max(-3, math.Min(3, r.NormFloat64())) * p.Jitter)
		}
		pointcloud.Normalize(out)
	}
	return out, nil
}

// occlude appends to dst the keep points of xyz lying furthest on one side of
// a random plane, as if the rest were hidden from a scanner. The points are
// independent uniform surface samples, so keeping the keep nearest the viewer
// is the same as cutting the surface by a plane and sampling what remains.
func occlude(dst, xyz []float32, keep int, r rnd) []float32 {
	// A direction from the object towards what hides it: anywhere around,
	// from somewhat below to well above.
	a := r.u(0, 2*math.Pi)
	y := r.u(-0.3, 0.8)
	h := math.Sqrt(1 - y*y)
	d := [3]float64{h * math.Cos(a), y, h * math.Sin(a)}
	n := len(xyz) / 3
	proj := make([]float64, n)
	for i := range n {
		proj[i] = d[0]*float64(xyz[3*i]) + d[1]*float64(xyz[3*i+1]) + d[2]*float64(xyz[3*i+2])
	}
	sorted := slices.Clone(proj)
	slices.Sort(sorted)
	thr := sorted[keep-1]
	ties := keep - sort.SearchFloat64s(sorted, thr) // points at thr to keep
	for i, v := range proj {
		if v < thr || (v == thr && ties > 0) {
			if v == thr {
				ties--
			}
			dst = append(dst, xyz[3*i:3*i+3]...)
		}
	}
	return dst
}

// clutter builds the background of an OBJ_BG-like sample around an object
// whose bounding box is lo..hi: a patch of floor under it, up to two wall
// fragments and a few boxes, all within the box enlarged by a small margin.
func clutter(r rnd, lo, hi [3]float64) *mesh {
	ext := math.Max(hi[0]-lo[0], math.Max(hi[1]-lo[1], hi[2]-lo[2]))
	mg := ext * r.u(0.05, 0.2)
	x0, x1 := lo[0]-mg, hi[0]+mg
	z0, z1 := lo[2]-mg, hi[2]+mg
	y0, ht := lo[1], hi[1]-lo[1]
	th := ext * 0.01
	m := &mesh{}
	cut := func(a, b float64) (float64, float64) { // a random sub-interval
		l := b - a
		return a + l*r.u(0, 0.25), b - l*r.u(0, 0.25)
	}
	fx0, fx1 := cut(x0, x1)
	fz0, fz1 := cut(z0, z1)
	m.add(block(fx0, y0-th, fz0, fx1, y0, fz1))
	for range r.i(0, 2) {
		wh := ht * r.u(0.3, 1.1)
		switch r.i(0, 3) {
		case 0:
			a, b := cut(z0, z1)
			m.add(block(x0-th, y0, a, x0, y0+wh, b))
		case 1:
			a, b := cut(z0, z1)
			m.add(block(x1, y0, a, x1+th, y0+wh, b))
		case 2:
			a, b := cut(x0, x1)
			m.add(block(a, y0, z0-th, b, y0+wh, z0))
		default:
			a, b := cut(x0, x1)
			m.add(block(a, y0, z1, b, y0+wh, z1+th))
		}
	}
	for range r.i(1, 3) {
		sx, sy, sz := ext*r.u(0.08, 0.3), ext*r.u(0.05, 0.3), ext*r.u(0.08, 0.3)
		// Centre on the border of the region, so boxes stand beside the object.
		var cx, cz float64
		if r.p(0.5) {
			cx, cz = x0+sx/2, r.u(z0, z1)
			if r.p(0.5) {
				cx = x1 - sx/2
			}
		} else {
			cx, cz = r.u(x0, x1), z0+sz/2
			if r.p(0.5) {
				cz = z1 - sz/2
			}
		}
		m.add(block(cx-sx/2, y0, cz-sz/2, cx+sx/2, y0+sy, cz+sz/2))
	}
	return m
}

// rotate turns the flat cloud about y by a random angle when p.Rotate and
// tilts it by up to p.Tilt about x and z.
func rotate(xyz []float32, r rnd, p Perturb) {
	m := &mesh{v: make([]float64, len(xyz))}
	for i, v := range xyz {
		m.v[i] = float64(v)
	}
	if p.Rotate {
		m.rotY(r.u(0, 2*math.Pi))
	}
	if p.Tilt > 0 {
		m.rotX(r.u(-p.Tilt, p.Tilt)).rotZ(r.u(-p.Tilt, p.Tilt))
	}
	for i, v := range m.v {
		xyz[i] = float32(v)
	}
}
