package pointcloud

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Normalize centres xyz (3 values per point) on its mean and divides by the
// largest distance from it, as Point-MAE's pc_normalize does; normals are
// unaffected. A cloud whose points all coincide is only centred.
func Normalize(xyz []float32) {
	n := len(xyz) / 3
	if n == 0 {
		return
	}
	var c [3]float64
	for i := 0; i < n; i++ {
		for k := 0; k < 3; k++ {
			c[k] += float64(xyz[3*i+k])
		}
	}
	for k := range c {
		c[k] /= float64(n)
	}
	r := 0.0
	for i := 0; i < n; i++ {
		d := 0.0
		for k := 0; k < 3; k++ {
			v := float64(xyz[3*i+k]) - c[k]
			d += v * v
		}
		r = math.Max(r, d)
	}
	r = math.Sqrt(r)
	if r == 0 {
		r = 1
	}
	for i := 0; i < n; i++ {
		for k := 0; k < 3; k++ {
			xyz[3*i+k] = float32((float64(xyz[3*i+k]) - c[k]) / r)
		}
	}
}

// ScaleAndTranslate is Point-MAE's PointcloudScaleAndTranslate: each of the b
// clouds of n points in xyz (b×n×3) is scaled per axis by a factor drawn from
// U[lo, hi) and shifted per axis by U[-shift, shift). Point-MAE uses
// lo = 2/3, hi = 3/2, shift = 0.2 (see DefaultScaleAndTranslate).
func ScaleAndTranslate(xyz []float32, b, n int, lo, hi, shift float64, r *rand.Rand) {
	for i := 0; i < b; i++ {
		var s, t [3]float32
		for k := 0; k < 3; k++ {
			s[k] = float32(lo + (hi-lo)*r.Float64())
		}
		for k := 0; k < 3; k++ {
			t[k] = float32(-shift + 2*shift*r.Float64())
		}
		c := xyz[i*n*3 : (i+1)*n*3]
		for j := 0; j < n; j++ {
			for k := 0; k < 3; k++ {
				c[3*j+k] = c[3*j+k]*s[k] + t[k]
			}
		}
	}
}

// DefaultScaleAndTranslate applies Point-MAE's training augmentation.
func DefaultScaleAndTranslate(xyz []float32, b, n int, r *rand.Rand) {
	ScaleAndTranslate(xyz, b, n, 2.0/3.0, 3.0/2.0, 0.2, r)
}

// Axis names a coordinate axis.
type Axis int

// The axes; Y is up in ModelNet40 and ScanObjectNN.
const (
	X Axis = iota
	Y
	Z
)

// ParseAxis reads "x", "y" or "z".
func ParseAxis(s string) (Axis, error) {
	switch s {
	case "x", "X":
		return X, nil
	case "y", "Y":
		return Y, nil
	case "z", "Z":
		return Z, nil
	}
	return 0, fmt.Errorf("unknown axis %q (want x, y or z)", s)
}

// Rotate turns xyz, and normals when not nil, by angle radians about axis,
// counter-clockwise looking down the axis towards the origin.
func Rotate(xyz, normals []float32, axis Axis, angle float64) {
	s, c := math.Sincos(angle)
	// (i, j) is the plane rotated: about Y, z→x; about X, y→z; about Z, x→y.
	i, j := 0, 1
	switch axis {
	case X:
		i, j = 1, 2
	case Y:
		i, j = 2, 0
	}
	for _, v := range [][]float32{xyz, normals} {
		for p := 0; p+2 < len(v); p += 3 {
			a, b := float64(v[p+i]), float64(v[p+j])
			v[p+i] = float32(c*a - s*b)
			v[p+j] = float32(s*a + c*b)
		}
	}
}

// RandomRotate rotates about axis by an angle drawn from U[0, 2π).
func RandomRotate(xyz, normals []float32, axis Axis, r *rand.Rand) {
	Rotate(xyz, normals, axis, 2*math.Pi*r.Float64())
}

// Jitter adds to every coordinate Gaussian noise of standard deviation sigma,
// clipped to [-clip, clip] (PointNet's jitter: sigma 0.01, clip 0.05).
func Jitter(xyz []float32, sigma, clip float64, r *rand.Rand) {
	for i := range xyz {
		e := math.Max(-clip, math.Min(clip, sigma*r.NormFloat64()))
		xyz[i] += float32(e)
	}
}

// Shuffle permutes the points of c (and their normals) in place. Faces, if
// any, are renumbered to keep naming the same points.
func Shuffle(c *Cloud, r *rand.Rand) {
	n := c.Len()
	perm := r.Perm(n)
	xyz := make([]float32, len(c.XYZ))
	var nrm []float32
	if c.Normals != nil {
		nrm = make([]float32, len(c.Normals))
	}
	where := make([]int32, n)
	for dst, src := range perm {
		copy(xyz[3*dst:3*dst+3], c.XYZ[3*src:3*src+3])
		if nrm != nil {
			copy(nrm[3*dst:3*dst+3], c.Normals[3*src:3*src+3])
		}
		where[src] = int32(dst)
	}
	c.XYZ, c.Normals = xyz, nrm
	for i, f := range c.Faces {
		c.Faces[i] = where[f]
	}
}

// ShufflePoints permutes the points of a flat xyz slice in place.
func ShufflePoints(xyz []float32, r *rand.Rand) {
	n := len(xyz) / 3
	r.Shuffle(n, func(a, b int) {
		xyz[3*a], xyz[3*b] = xyz[3*b], xyz[3*a]
		xyz[3*a+1], xyz[3*b+1] = xyz[3*b+1], xyz[3*a+1]
		xyz[3*a+2], xyz[3*b+2] = xyz[3*b+2], xyz[3*a+2]
	})
}

// BatchSubset draws one random subset of k of n point positions, to be used
// for every cloud of a batch as Point-MAE's training step does (a random
// permutation of the n positions, cut to its first k).
func BatchSubset(n, k int, r *rand.Rand) ([]int32, error) {
	if k <= 0 || k > n {
		return nil, fmt.Errorf("cannot take %d of %d points", k, n)
	}
	perm := r.Perm(n)
	out := make([]int32, k)
	for i := range out {
		out[i] = int32(perm[i])
	}
	return out, nil
}

// GatherBatch takes the points at positions idx from each of b clouds of n
// points (xyz is b×n×3), giving b×len(idx)×3.
func GatherBatch(xyz []float32, b, n int, idx []int32) []float32 {
	k := len(idx)
	out := make([]float32, b*k*3)
	for i := 0; i < b; i++ {
		src := xyz[i*n*3 : (i+1)*n*3]
		dst := out[i*k*3 : (i+1)*k*3]
		for j, p := range idx {
			copy(dst[3*j:3*j+3], src[3*p:3*p+3])
		}
	}
	return out
}
