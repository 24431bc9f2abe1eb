package plot

import (
	"errors"
	"fmt"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one curve of Curves: Y against X (same length, finite values),
// drawn in the panel named Panel, which is also that panel's y-axis label.
// Name labels the curve in its panel's legend (no entry when empty).
// XLabel, optional, labels the panel's x axis; the first non-empty XLabel
// of a panel's series is used.
type Series struct {
	Name   string
	X, Y   []float64
	Panel  string
	XLabel string
}

// Curves writes to path (PNG) one panel per distinct Panel name, stacked
// top to bottom in order of first appearance, with their y axes aligned:
// for example training loss, test accuracy and learning rate over epochs.
// Curves of up to 40 points also mark each point.
func Curves(path string, series []Series) error {
	if len(series) == 0 {
		return errors.New("plot: curves: no series")
	}
	var panels []string
	byPanel := map[string][]Series{}
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("plot: curves: series %d (%q) has %d x and %d y values", i, s.Name, len(s.X), len(s.Y))
		}
		if len(s.X) == 0 {
			return fmt.Errorf("plot: curves: series %d (%q) is empty", i, s.Name)
		}
		for j := range s.X {
			if bad(s.X[j]) || bad(s.Y[j]) {
				return fmt.Errorf("plot: curves: series %d (%q) point %d is (%v, %v)", i, s.Name, j, s.X[j], s.Y[j])
			}
		}
		if _, ok := byPanel[s.Panel]; !ok {
			panels = append(panels, s.Panel)
		}
		byPanel[s.Panel] = append(byPanel[s.Panel], s)
	}

	plots := make([][]*gplot.Plot, len(panels))
	legends := make([]gplot.Legend, len(panels))
	var legendW vg.Length
	for k, name := range panels {
		p := newPlot()
		p.Y.Label.Text = name
		p.X.Tick.Marker = niceTicks
		p.Y.Tick.Marker = niceTicks
		p.Add(plotter.NewGrid())
		legends[k] = newLegend(9.5)
		legends[k].ThumbnailWidth = vg.Points(18)
		colours := categorical(len(byPanel[name]))
		for i, s := range byPanel[name] {
			if p.X.Label.Text == "" {
				p.X.Label.Text = s.XLabel
			}
			xys := make(plotter.XYs, len(s.X))
			for j := range xys {
				xys[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
			}
			line, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			line.Color = colours[i]
			line.Width = vg.Points(1.5)
			p.Add(line)
			thumbs := []gplot.Thumbnailer{line}
			if len(xys) <= 40 {
				pts, err := plotter.NewScatter(xys)
				if err != nil {
					return err
				}
				pts.Color = colours[i]
				pts.Shape = draw.CircleGlyph{}
				pts.Radius = vg.Points(2)
				p.Add(pts)
				thumbs = append(thumbs, pts)
			}
			if s.Name != "" {
				legends[k].Add(s.Name, thumbs...)
			}
		}
		if s := legends[k].Rectangle(draw.Canvas{}).Size(); s.X > legendW {
			legendW = s.X
		}
		plots[k] = []*gplot.Plot{p}
	}
	if legendW > 0 {
		legendW += vg.Points(10)
	}

	w, h := 6.5*vg.Inch+legendW, vg.Length(len(panels))*2.4*vg.Inch+0.2*vg.Inch
	return writePNG(path, w, h, func(c draw.Canvas) error {
		tiles := draw.Tiles{
			Rows: len(panels), Cols: 1,
			PadY:   vg.Points(10),
			PadTop: vg.Points(6), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10),
		}
		canvases := gplot.Align(plots, tiles, draw.Crop(c, 0, -legendW, 0, 0))
		for k := range plots {
			plots[k][0].Draw(canvases[k][0])
			// The legend beside the panel, level with the top of its data.
			da := plots[k][0].DataCanvas(canvases[k][0])
			lc := c
			lc.Min = vg.Point{X: c.Max.X - legendW + vg.Points(2), Y: canvases[k][0].Min.Y}
			lc.Max = vg.Point{X: c.Max.X, Y: da.Max.Y}
			legends[k].Draw(lc)
		}
		return nil
	})
}

// bad reports whether v is NaN or infinite.
func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
