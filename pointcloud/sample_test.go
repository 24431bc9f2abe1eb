package pointcloud

import (
	"errors"
	"math"
	"testing"
)

// twoTriangles is a unit square in z=0 and a 2×1 rectangle in x=5 (area 1 + 2).
func twoRects() *Cloud {
	return &Cloud{
		XYZ: []float32{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0,
			5, 0, 0, 5, 2, 0, 5, 2, 1, 5, 0, 1},
		Faces: []int32{0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7},
	}
}

func TestSampleSurfaceAreaWeighted(t *testing.T) {
	const n = 30000
	c, err := SampleSurface(twoRects(), n, 7)
	if err != nil {
		t.Fatal(err)
	}
	onBig := 0
	for i := 0; i < n; i++ {
		p := c.Point(i)
		switch {
		case p[0] == 5:
			onBig++
			if p[1] < 0 || p[1] > 2 || p[2] < 0 || p[2] > 1 || c.Normals[3*i] == 0 {
				t.Fatalf("point %v off the rectangle or wrong normal", p)
			}
		case p[2] == 0:
			if p[0] < 0 || p[0] > 1 || p[1] < 0 || p[1] > 1 || math.Abs(float64(c.Normals[3*i+2])) != 1 {
				t.Fatalf("point %v off the square or wrong normal", p)
			}
		default:
			t.Fatalf("point %v on neither face", p)
		}
	}
	if frac := float64(onBig) / n; math.Abs(frac-2.0/3) > 0.015 {
		t.Errorf("%.3f of points on the larger face, want 2/3", frac)
	}
	again, _ := SampleSurface(twoRects(), n, 7)
	other, _ := SampleSurface(twoRects(), n, 8)
	same, diff := true, false
	for i := range c.XYZ {
		same = same && c.XYZ[i] == again.XYZ[i]
		diff = diff || c.XYZ[i] != other.XYZ[i]
	}
	if !same || !diff {
		t.Errorf("sampling not deterministic per seed (same seed equal: %v, other seed differs: %v)", same, diff)
	}
}

func TestSampleSurfaceErrors(t *testing.T) {
	flat := &Cloud{XYZ: []float32{0, 0, 0, 1, 1, 1, 2, 2, 2}, Faces: []int32{0, 1, 2}}
	if _, err := SampleSurface(flat, 10, 1); !errors.Is(err, ErrZeroArea) {
		t.Errorf("zero-area mesh: %v", err)
	}
	if _, err := SampleSurface(&Cloud{XYZ: []float32{0, 0, 0}}, 10, 1); err == nil {
		t.Error("cloud without faces sampled")
	}
	bad := twoRects()
	bad.Faces[2] = 99
	if _, err := SampleSurface(bad, 10, 1); !errors.Is(err, ErrFace) {
		t.Errorf("bad face index: %v", err)
	}
	nan := twoRects()
	nan.XYZ[4] = float32(math.NaN())
	if _, err := SampleSurface(nan, 10, 1); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN vertex: %v", err)
	}
	if _, err := SampleSurface(twoRects(), 0, 1); err == nil {
		t.Error("zero points sampled")
	}
	// Degenerate faces among good ones are never sampled.
	mixed := twoRects()
	mixed.Faces = append([]int32{0, 0, 0}, mixed.Faces...)
	c, err := SampleSurface(mixed, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < c.Len(); i++ {
		if c.Normals[3*i] == 0 && c.Normals[3*i+1] == 0 && c.Normals[3*i+2] == 0 {
			t.Fatal("a point came from the zero-area face")
		}
	}
}
