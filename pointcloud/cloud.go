// Package pointcloud holds pcx's point-cloud type, the readers and writers of
// the file formats users bring (PLY, OFF, STL, OBJ, XYZ/TXT/CSV, NPY), mesh
// surface sampling, Point-MAE's normalisation and its augmentations.
//
// A Cloud stores coordinates as one flat float32 slice, three values per point,
// so that farthest-point sampling and neighbour search run over contiguous
// memory. A Cloud with Faces is a triangle mesh over its points.
package pointcloud

import (
	"errors"
	"fmt"
	"math"
)

// Cloud is a set of points with optional per-point normals and, for meshes,
// triangles over those points.
type Cloud struct {
	// XYZ holds x, y, z of each point in turn: len(XYZ) == 3*Len().
	XYZ []float32
	// Normals is nil or, like XYZ, three values per point.
	Normals []float32
	// Faces is nil for a plain cloud; for a mesh it holds three point
	// indices per triangle (polygons are split into fans when read).
	Faces []int32
}

// Len returns the number of points.
func (c *Cloud) Len() int { return len(c.XYZ) / 3 }

// NumFaces returns the number of triangles.
func (c *Cloud) NumFaces() int { return len(c.Faces) / 3 }

// IsMesh reports whether the cloud has faces.
func (c *Cloud) IsMesh() bool { return len(c.Faces) > 0 }

// Point returns the i-th point.
func (c *Cloud) Point(i int) [3]float32 {
	return [3]float32{c.XYZ[3*i], c.XYZ[3*i+1], c.XYZ[3*i+2]}
}

// Clone returns a deep copy.
func (c *Cloud) Clone() *Cloud {
	out := &Cloud{XYZ: append([]float32(nil), c.XYZ...)}
	if c.Normals != nil {
		out.Normals = append([]float32(nil), c.Normals...)
	}
	if c.Faces != nil {
		out.Faces = append([]int32(nil), c.Faces...)
	}
	return out
}

// Errors that Validate wraps, so callers can test for them with errors.Is.
var (
	ErrEmpty     = errors.New("no points")
	ErrNonFinite = errors.New("non-finite coordinate")
	ErrShape     = errors.New("inconsistent lengths")
	ErrFace      = errors.New("face index out of range")
)

// Validate checks that the cloud is usable: at least one point, lengths that
// agree, finite coordinates and normals, and face indices that name points.
func (c *Cloud) Validate() error {
	if len(c.XYZ)%3 != 0 {
		return fmt.Errorf("%w: %d coordinates is not a multiple of 3", ErrShape, len(c.XYZ))
	}
	if len(c.XYZ) == 0 {
		return ErrEmpty
	}
	if c.Normals != nil && len(c.Normals) != len(c.XYZ) {
		return fmt.Errorf("%w: %d normal values for %d points", ErrShape, len(c.Normals), c.Len())
	}
	for i, v := range c.XYZ {
		if v-v != 0 { // NaN or ±Inf
			return fmt.Errorf("%w: point %d has %v", ErrNonFinite, i/3, v)
		}
	}
	for i, v := range c.Normals {
		if v-v != 0 {
			return fmt.Errorf("%w: normal of point %d has %v", ErrNonFinite, i/3, v)
		}
	}
	if len(c.Faces)%3 != 0 {
		return fmt.Errorf("%w: %d face indices is not a multiple of 3", ErrShape, len(c.Faces))
	}
	n := int32(c.Len())
	for i, f := range c.Faces {
		if f < 0 || f >= n {
			return fmt.Errorf("%w: face %d names point %d of %d", ErrFace, i/3, f, n)
		}
	}
	return nil
}

// Bounds returns the per-axis minimum and maximum.
func (c *Cloud) Bounds() (lo, hi [3]float32) {
	for k := 0; k < 3; k++ {
		lo[k], hi[k] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	for i := 0; i+2 < len(c.XYZ); i += 3 {
		for k := 0; k < 3; k++ {
			v := c.XYZ[i+k]
			if v < lo[k] {
				lo[k] = v
			}
			if v > hi[k] {
				hi[k] = v
			}
		}
	}
	return lo, hi
}
