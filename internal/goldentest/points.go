package goldentest

import (
	"encoding/json"
	"os"
	"testing"
)

// PointsCase is one cloud of testdata/golden/points.json, written by
// scripts/golden_points.py from a torch implementation of pointnet2's
// furthest_point_sample (and plain FPS) and torch's sort/cdist/topk.
type PointsCase struct {
	// XYZ is the cloud, row-major; a lattice case has it filled by
	// LoadPoints.
	XYZ     []float32 `json:"xyz"`
	Lattice int       `json:"lattice"` // or this many points of Lattice()
	M       int       `json:"m"`
	// FPS are pointnet2's centres, FPSPlain plain FPS's from PlainStart.
	FPS        []int32 `json:"fps"`
	PlainStart int     `json:"plain_start"`
	FPSPlain   []int32 `json:"fps_plain"`
	// KNN are the K nearest points of the first len(KNN) FPS centres.
	K   int       `json:"k"`
	KNN [][]int32 `json:"knn"`
}

// Lattice is the script's lattice(n): n points, exact in float32.
func Lattice(n int) []float32 {
	xyz := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		xyz[3*i] = float32(i*37%101) / 16
		xyz[3*i+1] = float32(i*53%97) / 16
		xyz[3*i+2] = float32(i*71%89) / 16
	}
	return xyz
}

// LoadPoints reads the points fixture at path (relative to the calling
// test's package) with every lattice case's cloud filled in.
func LoadPoints(t *testing.T, path string) map[string]PointsCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases map[string]PointsCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no cases: rerun scripts/golden_points.py")
	}
	for name, c := range f.Cases {
		if c.Lattice > 0 {
			c.XYZ = Lattice(c.Lattice)
			f.Cases[name] = c
		}
	}
	return f.Cases
}
