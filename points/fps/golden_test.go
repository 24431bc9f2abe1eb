package fps

import (
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
)

// TestGoldenFPS: both modes choose the reference's centres, in order, on
// clouds with ties, duplicates, skipped points near the origin and one
// large enough to be split across cores, with 1 and 4 workers.
func TestGoldenFPS(t *testing.T) {
	for name, c := range goldentest.LoadPoints(t, "../../testdata/golden/points.json") {
		xyz := c.XYZ
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
