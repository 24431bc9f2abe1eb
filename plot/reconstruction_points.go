package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"sort"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PointReconstruction is one cloud of a point-cloud reconstruction figure,
// each slice x, y, z of each point in turn.
type PointReconstruction struct {
	// Input is the cloud the model was given.
	Input []float32
	// Visible holds the points of the groups the model saw.
	Visible []float32
	// Predicted holds the points the model predicted for the masked
	// groups.
	Predicted []float32
}

// View is a direction a 3-D scatter is seen from: the points are turned
// by Azimuth degrees about the up axis, then tilted by Elevation degrees
// towards the viewer, and projected orthographically.
type View struct {
	Azimuth, Elevation float64
}

// DefaultViews are the reconstruction figure's views: from the front-left
// and the front-right, slightly above, and from above.
var DefaultViews = []View{{Azimuth: -35, Elevation: 20}, {Azimuth: 55, Elevation: 20}, {Azimuth: 0, Elevation: 90}}

// Colours of the reconstruction figure.
var (
	inputColour     = color.RGBA{0x55, 0x55, 0x55, 0xff}
	visibleColour   = tab10[0]
	predictedColour = tab10[3]
)

// maxReconClouds bounds the rows of the figure.
const maxReconClouds = 32

// PointReconstructions writes to path (PNG) Point-MAE's reconstruction
// figure: a row per cloud, and three columns, the input, the visible groups
// and the reconstruction (the visible groups, blue, with the predicted
// points of the masked groups, red), each drawn from every view in views
// (DefaultViews when nil; up is y). All the panels of a row share their
// scale. An empty title draws none.
func PointReconstructions(path string, clouds []PointReconstruction, views []View, title string) error {
	if len(clouds) == 0 {
		return errors.New("plot: reconstruction: no clouds")
	}
	if len(clouds) > maxReconClouds {
		return fmt.Errorf("plot: reconstruction: %d clouds, at most %d", len(clouds), maxReconClouds)
	}
	if views == nil {
		views = DefaultViews
	}
	if len(views) == 0 || len(views) > 6 {
		return fmt.Errorf("plot: reconstruction: %d views, want 1 to 6", len(views))
	}
	for _, v := range views {
		if bad(v.Azimuth) || bad(v.Elevation) {
			return fmt.Errorf("plot: reconstruction: view %v", v)
		}
	}
	for i, c := range clouds {
		for _, s := range []struct {
			name string
			xyz  []float32
		}{{"input", c.Input}, {"visible", c.Visible}, {"predicted", c.Predicted}} {
			if len(s.xyz) == 0 || len(s.xyz)%3 != 0 {
				return fmt.Errorf("plot: reconstruction: cloud %d's %s points have %d values, not a positive multiple of 3", i, s.name, len(s.xyz))
			}
			for j, v := range s.xyz {
				if bad(float64(v)) {
					return fmt.Errorf("plot: reconstruction: cloud %d's %s point %d is %v", i, s.name, j/3, v)
				}
			}
		}
	}

	panel := 1.45 * vg.Inch
	gap := vg.Points(8) // between the three column groups
	head := vg.Points(18)
	ts := titleStyle()
	var titleH vg.Length
	if title != "" {
		titleH = ts.Height(title) + vg.Points(10)
	}
	nv := len(views)
	w := 3*vg.Length(nv)*panel + 2*gap + vg.Points(8)
	w = max(w, ts.Width(title)+vg.Inch)
	h := vg.Length(len(clouds))*panel + head + titleH + vg.Points(6)
	hs := text.Style{Font: font.From(sans, 10), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: gplot.DefaultTextHandler, Color: color.Black}
	heads := []string{"input", "visible groups", "reconstruction (red: predicted)"}
	return writePNG(path, w, h, func(c draw.Canvas) error {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		if title != "" {
			c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(6)}, title)
		}
		left := c.Min.X + vg.Points(4)
		top := c.Max.Y - titleH
		groupW := vg.Length(nv) * panel
		for col, hd := range heads {
			x0 := left + vg.Length(col)*(groupW+gap)
			c.FillText(hs, vg.Point{X: x0 + groupW/2, Y: top - vg.Points(2)}, hd)
		}
		for row, cl := range clouds {
			// One scale per row: the largest distance of any point from
			// the input's centre of its bounding box.
			centre, radius := bounds(cl.Input, cl.Visible, cl.Predicted)
			y1 := top - head - vg.Length(row)*panel
			for col := 0; col < 3; col++ {
				var layers []scatterLayer
				switch col {
				case 0:
					layers = []scatterLayer{{cl.Input, inputColour}}
				case 1:
					layers = []scatterLayer{{cl.Visible, visibleColour}}
				default:
					layers = []scatterLayer{{cl.Visible, visibleColour}, {cl.Predicted, predictedColour}}
				}
				for k, v := range views {
					x0 := left + vg.Length(col)*(groupW+gap) + vg.Length(k)*panel
					box := vg.Rectangle{Min: vg.Point{X: x0, Y: y1 - panel}, Max: vg.Point{X: x0 + panel, Y: y1}}
					drawView(c, box, layers, v, centre, radius)
				}
			}
		}
		return nil
	})
}

// scatterLayer is a set of points drawn in one colour.
type scatterLayer struct {
	xyz []float32
	col color.RGBA
}

// bounds returns the centre of the bounding box of all the points and the
// largest distance of a point from it (at least a tiny positive number).
func bounds(sets ...[]float32) ([3]float64, float64) {
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for _, s := range sets {
		for i := 0; i+2 < len(s); i += 3 {
			for a := 0; a < 3; a++ {
				lo[a] = math.Min(lo[a], float64(s[i+a]))
				hi[a] = math.Max(hi[a], float64(s[i+a]))
			}
		}
	}
	var c [3]float64
	for a := range c {
		c[a] = (lo[a] + hi[a]) / 2
	}
	r := 1e-9
	for _, s := range sets {
		for i := 0; i+2 < len(s); i += 3 {
			dx, dy, dz := float64(s[i])-c[0], float64(s[i+1])-c[1], float64(s[i+2])-c[2]
			r = math.Max(r, math.Sqrt(dx*dx+dy*dy+dz*dz))
		}
	}
	return c, r
}

// projected is a point on a panel: its position and depth (larger is
// nearer the viewer) and its colour.
type projected struct {
	x, y, depth float64
	col         color.RGBA
}

// project turns p (relative to the centre) as v says: azimuth about y,
// then elevation about x; x right, y up, z towards the viewer.
func project(p [3]float64, v View) (x, y, z float64) {
	a, e := v.Azimuth*math.Pi/180, v.Elevation*math.Pi/180
	ca, sa := math.Cos(a), math.Sin(a)
	x1 := ca*p[0] + sa*p[2]
	z1 := -sa*p[0] + ca*p[2]
	ce, se := math.Cos(e), math.Sin(e)
	y2 := ce*p[1] - se*z1
	z2 := se*p[1] + ce*z1
	return x1, y2, z2
}

// drawView draws the layers in box as seen from v, far points first and
// paler, inside a light frame.
func drawView(c draw.Canvas, box vg.Rectangle, layers []scatterLayer, v View, centre [3]float64, radius float64) {
	var pts []projected
	for _, l := range layers {
		for i := 0; i+2 < len(l.xyz); i += 3 {
			p := [3]float64{float64(l.xyz[i]) - centre[0], float64(l.xyz[i+1]) - centre[1], float64(l.xyz[i+2]) - centre[2]}
			x, y, z := project(p, v)
			pts = append(pts, projected{x / radius, y / radius, z / radius, l.col})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].depth < pts[j].depth })
	n := 0
	for _, l := range layers {
		n += len(l.xyz) / 3
	}
	rad := vg.Points(1.3)
	switch {
	case n > 3000:
		rad = vg.Points(0.8)
	case n > 1200:
		rad = vg.Points(1)
	}
	half := (box.Max.X - box.Min.X) / 2 * 0.92
	cx, cy := (box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2
	for _, p := range pts {
		// Depth in [-1, 1]: the farthest points faded 60% towards white.
		fog := 0.3 * (1 - math.Max(-1, math.Min(1, p.depth)))
		col := color.RGBA{fade(p.col.R, fog), fade(p.col.G, fog), fade(p.col.B, fog), 0xff}
		c.DrawGlyph(draw.GlyphStyle{Color: col, Radius: rad, Shape: draw.CircleGlyph{}},
			vg.Point{X: cx + vg.Length(p.x)*half, Y: cy + vg.Length(p.y)*half})
	}
	c.StrokeLines(draw.LineStyle{Color: color.Gray{0xdd}, Width: vg.Points(0.5)}, []vg.Point{
		box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}, box.Min,
	})
}

// fade moves a colour channel a share f of the way to white.
func fade(v uint8, f float64) uint8 {
	return uint8(math.Max(0, math.Min(255, float64(v)+(255-float64(v))*f+0.5)))
}
