package knn

import (
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
)

// TestGoldenKNN: both search methods return the neighbours of
// testdata/golden/points.json (scripts/golden_points.py: float32 squared
// distances, a stable torch sort, checked there against torch.cdist and
// topk) around the reference's FPS centres, ties included, with 1 and 4
// workers.
func TestGoldenKNN(t *testing.T) {
	for name, c := range goldentest.LoadPoints(t, "../../testdata/golden/points.json") {
		xyz := c.XYZ
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
