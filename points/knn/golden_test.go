package knn

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestGoldenKNN: both search methods return the neighbours of
// testdata/golden/points.json (scripts/golden_points.py: float32 squared
// distances, a stable torch sort, checked there against torch.cdist and
// topk) around the reference's FPS centres, ties included, with 1 and 4
// workers.
func TestGoldenKNN(t *testing.T) {
	b, err := os.ReadFile("../../testdata/golden/points.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases map[string]struct {
			XYZ     []float32 `json:"xyz"`
			Lattice int       `json:"lattice"`
			K       int       `json:"k"`
			FPS     []int32   `json:"fps"`
			KNN     [][]int32 `json:"knn"`
		} `json:"cases"`
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
			xyz = make([]float32, 3*c.Lattice)
			for i := 0; i < c.Lattice; i++ { // the script's lattice(n)
				xyz[3*i] = float32(i*37%101) / 16
				xyz[3*i+1] = float32(i*53%97) / 16
				xyz[3*i+2] = float32(i*71%89) / 16
			}
		}
		var q []float32
		for _, i := range c.FPS[:len(c.KNN)] {
			q = append(q, xyz[3*i:3*i+3]...)
		}
		for _, m := range []Method{Brute, Grid, Auto} {
			for _, w := range []int{1, 4} {
				got, err := Search(xyz, q, c.K, Options{Method: m, Workers: w})
				if err != nil {
					t.Fatal(err)
				}
				for j, want := range c.KNN {
					if g := got[j*c.K : (j+1)*c.K]; !slices.Equal(g, want) {
						t.Errorf("%s, %v, %d workers, centre %d:\n got %v\nwant %v", name, m, w, j, g, want)
						break
					}
				}
			}
		}
	}
}
