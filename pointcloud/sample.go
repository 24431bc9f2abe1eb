package pointcloud

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/pcx-dev/pcx/internal/rng"
)

// ErrZeroArea is returned when a mesh has no surface to sample.
var ErrZeroArea = errors.New("mesh has zero surface area")

// NewRand returns pcx's deterministic random stream for a seed.
func NewRand(seed uint64) *rand.Rand {
	return rng.New(seed)
}

// SampleSurface draws n points uniformly over the surface of a triangle mesh:
// each point picks a triangle with probability proportional to its area, then
// a uniform position inside it. Each sample gets its triangle's unit normal.
// The result is the same for the same mesh, n and seed.
func SampleSurface(m *Cloud, n int, seed uint64) (*Cloud, error) {
	if n <= 0 {
		return nil, fmt.Errorf("cannot sample %d points", n)
	}
	if !m.IsMesh() {
		return nil, errors.New("not a mesh: no faces to sample")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	nf := m.NumFaces()
	cum := make([]float64, nf)
	normals := make([]float32, 3*nf)
	total := 0.0
	for f := 0; f < nf; f++ {
		a, b, c := m.Faces[3*f], m.Faces[3*f+1], m.Faces[3*f+2]
		var e1, e2 [3]float64
		for k := 0; k < 3; k++ {
			p := float64(m.XYZ[3*a+int32(k)])
			e1[k] = float64(m.XYZ[3*b+int32(k)]) - p
			e2[k] = float64(m.XYZ[3*c+int32(k)]) - p
		}
		cx := e1[1]*e2[2] - e1[2]*e2[1]
		cy := e1[2]*e2[0] - e1[0]*e2[2]
		cz := e1[0]*e2[1] - e1[1]*e2[0]
		l := math.Sqrt(cx*cx + cy*cy + cz*cz)
		if l > 0 {
			normals[3*f], normals[3*f+1], normals[3*f+2] = float32(cx/l), float32(cy/l), float32(cz/l)
		}
		total += l / 2
		cum[f] = total
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, ErrZeroArea
	}
	r := NewRand(seed)
	out := &Cloud{XYZ: make([]float32, 3*n), Normals: make([]float32, 3*n)}
	for i := 0; i < n; i++ {
		u := r.Float64() * total
		f := sort.SearchFloat64s(cum, u)
		if f >= nf {
			f = nf - 1
		}
		for cum[f] == 0 || (f > 0 && cum[f] == cum[f-1]) { // never land on a degenerate face
			f++
		}
		s, t := r.Float64(), r.Float64()
		if s+t > 1 {
			s, t = 1-s, 1-t
		}
		a, b, c := int(m.Faces[3*f]), int(m.Faces[3*f+1]), int(m.Faces[3*f+2])
		for k := 0; k < 3; k++ {
			pa, pb, pc := float64(m.XYZ[3*a+k]), float64(m.XYZ[3*b+k]), float64(m.XYZ[3*c+k])
			out.XYZ[3*i+k] = float32(pa + s*(pb-pa) + t*(pc-pa))
			out.Normals[3*i+k] = normals[3*f+k]
		}
	}
	return out, nil
}
