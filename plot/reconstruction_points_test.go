package plot

import (
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// sphereCloud is n points on a sphere of radius r about (cx, 0, 0), split
// into the points with y above cut (visible) and below (predicted, moved by
// jitter).
func sphereCloud(n int, r, cx, cut, jitter float64) PointReconstruction {
	var c PointReconstruction
	for i := 0; i < n; i++ {
		// A Fibonacci sphere.
		y := 1 - 2*(float64(i)+0.5)/float64(n)
		rad := math.Sqrt(1 - y*y)
		a := float64(i) * math.Pi * (3 - math.Sqrt(5))
		p := []float32{float32(cx + r*rad*math.Cos(a)), float32(r * y), float32(r * rad * math.Sin(a))}
		c.Input = append(c.Input, p...)
		if y > cut {
			c.Visible = append(c.Visible, p...)
		} else {
			c.Predicted = append(c.Predicted, p[0]+float32(jitter), p[1], p[2])
		}
	}
	return c
}

func TestPointReconstructions(t *testing.T) {
	dir := outDir(t)
	clouds := []PointReconstruction{sphereCloud(1024, 1, 0, -0.2, 0.02), sphereCloud(600, 5, 10, 0.3, 0.3), sphereCloud(2000, 0.5, -1, 0, 0)}
	for _, views := range [][]View{nil, DefaultViews[:2]} {
		path := filepath.Join(dir, "reconstruction_"+strings.Repeat("v", len(views))+".png")
		if err := PointReconstructions(path, clouds, views, "reconstruction of held-out clouds"); err != nil {
			t.Fatal(err)
		}
		nv := len(views)
		if nv == 0 {
			nv = len(DefaultViews)
		}
		colours := readPNG(t, path, int(3*float64(nv)*1.45*dpi*0.95), 3*217, 0.03)
		for _, c := range []color.RGBA{inputColour, visibleColour, predictedColour} {
			if !hasColour(colours, c, 20) {
				t.Errorf("%s: colour %v is missing", path, c)
			}
		}
	}
}

func TestPointReconstructionsBadInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.png")
	good := sphereCloud(64, 1, 0, 0, 0)
	nan := good
	nan.Predicted = append([]float32{float32(math.NaN())}, nan.Predicted[1:]...)
	short := good
	short.Visible = short.Visible[:4]
	empty := good
	empty.Predicted = nil
	for _, tc := range []struct {
		name   string
		clouds []PointReconstruction
		views  []View
		want   string
	}{
		{"none", nil, nil, "no clouds"},
		{"NaN", []PointReconstruction{nan}, nil, "NaN"},
		{"short", []PointReconstruction{short}, nil, "visible"},
		{"empty", []PointReconstruction{empty}, nil, "predicted"},
		{"no views", []PointReconstruction{good}, []View{}, "views"},
		{"bad view", []PointReconstruction{good}, []View{{math.Inf(1), 0}}, "view"},
	} {
		if err := PointReconstructions(p, tc.clouds, tc.views, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}
