package fps

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// pointsCase is one cloud of testdata/golden/points.json, written by
// scripts/golden_points.py from a torch implementation of pointnet2's
// furthest_point_sample (and plain FPS) and torch's sort/cdist/topk.
type pointsCase struct {
	XYZ        []float32 `json:"xyz"`
	Lattice    int       `json:"lattice"` // or this many points of lattice()
	M          int       `json:"m"`
	FPS        []int32   `json:"fps"`
	PlainStart int       `json:"plain_start"`
	FPSPlain   []int32   `json:"fps_plain"`
}

// lattice is the script's lattice(n): exact in float32.
func lattice(n int) []float32 {
	xyz := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		xyz[3*i] = float32(i*37%101) / 16
		xyz[3*i+1] = float32(i*53%97) / 16
		xyz[3*i+2] = float32(i*71%89) / 16
	}
	return xyz
}

// TestGoldenFPS: both modes choose the reference's centres, in order, on
// clouds with ties, duplicates, skipped points near the origin and one
// large enough to be split across cores, with 1 and 4 workers.
func TestGoldenFPS(t *testing.T) {
	b, err := os.ReadFile("../../testdata/golden/points.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases map[string]pointsCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no cases: rerun scripts/golden_points.py")
	}
	for name, c := range f.Cases {
		xyz := c.XYZ
		if c.Lattice > 0 {
			xyz = lattice(c.Lattice)
		}
		for _, w := range []int{1, 4} {
			got, err := Sample(xyz, c.M, Options{Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.FPS) {
				t.Errorf("%s, %d workers: pointnet2 FPS\n got %v\nwant %v", name, w, got, c.FPS)
			}
			got, err = Sample(xyz, c.M, Options{Mode: Plain, Start: c.PlainStart, Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.FPSPlain) {
				t.Errorf("%s, %d workers: plain FPS from %d\n got %v\nwant %v", name, w, c.PlainStart, got, c.FPSPlain)
			}
		}
	}
}
