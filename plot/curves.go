package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one curve of Curves: Y against X (same length, finite x
// values; a NaN y is a gap: no point there, the line broken, at least one
// y finite), drawn in the panel named Panel, which is also that panel's
// y-axis label.
// Name labels the curve in its panel's legend (no entry when empty).
// XLabel, optional, labels the panel's x axis; the first non-empty XLabel
// of a panel's series is used.
type Series struct {
	Name   string
	X, Y   []float64
	Panel  string
	XLabel string
}

// Mark highlights one x value of Curves, such as the best epoch: a dashed
// line across every panel at X, and a ring on the point at X of the series
// named Series in panel Panel, which Label names in that panel's legend.
type Mark struct {
	X             float64
	Panel, Series string
	Label         string
}

// CurvesOptions are Curves' optional parts.
type CurvesOptions struct {
	// Title is drawn over the panels (none when empty).
	Title string
	// Mark, when set, highlights one x value.
	Mark *Mark
}

// Curves writes to path (PNG) one panel per distinct Panel name, stacked
// top to bottom in order of first appearance, with their y axes aligned:
// for example training loss, test accuracy and learning rate over epochs.
// Curves of up to 40 points also mark each point. Each y axis starts and
// ends on a labelled tick, so its labels cover all the data.
func Curves(path string, series []Series, opt CurvesOptions) error {
	f, err := curvesFigure(series, opt)
	if err != nil {
		return err
	}
	return f.write(path)
}

// curves is a laid-out Curves figure.
type curves struct {
	title   string
	plots   [][]*gplot.Plot // one column, a panel per row
	legends []gplot.Legend
	entries [][]string // each legend's texts
	legendW vg.Length
}

// markColour draws Curves' Mark.
var markColour = color.RGBA{0xd6, 0x27, 0x28, 0xff}

func curvesFigure(series []Series, opt CurvesOptions) (*curves, error) {
	if len(series) == 0 {
		return nil, errors.New("plot: curves: no series")
	}
	var panels []string
	byPanel := map[string][]Series{}
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot: curves: series %d (%q) has %d x and %d y values", i, s.Name, len(s.X), len(s.Y))
		}
		if len(s.X) == 0 {
			return nil, fmt.Errorf("plot: curves: series %d (%q) is empty", i, s.Name)
		}
		finite := 0
		for j := range s.X {
			if bad(s.X[j]) || math.IsInf(s.Y[j], 0) {
				return nil, fmt.Errorf("plot: curves: series %d (%q) point %d is (%v, %v)", i, s.Name, j, s.X[j], s.Y[j])
			}
			if !math.IsNaN(s.Y[j]) {
				finite++
			}
		}
		if finite == 0 {
			return nil, fmt.Errorf("plot: curves: series %d (%q) has no values (every y is NaN, a gap)", i, s.Name)
		}
		if _, ok := byPanel[s.Panel]; !ok {
			panels = append(panels, s.Panel)
		}
		byPanel[s.Panel] = append(byPanel[s.Panel], s)
	}
	if m := opt.Mark; m != nil && bad(m.X) {
		return nil, fmt.Errorf("plot: curves: the mark is at x = %v", m.X)
	}

	f := &curves{title: opt.Title, plots: make([][]*gplot.Plot, len(panels)), legends: make([]gplot.Legend, len(panels)),
		entries: make([][]string, len(panels))}
	for k, name := range panels {
		p := newPlot()
		p.Y.Label.Text = name
		p.X.Tick.Marker = niceTicks
		p.Y.Tick.Marker = niceTicks
		p.Add(plotter.NewGrid())
		f.legends[k] = newLegend(9.5)
		f.legends[k].ThumbnailWidth = vg.Points(18)
		colours := categorical(len(byPanel[name]))
		var ring *plotter.Scatter
		for i, s := range byPanel[name] {
			if p.X.Label.Text == "" {
				p.X.Label.Text = s.XLabel
			}
			// The runs of values between gaps: a line each; a lone value
			// (between two gaps) is marked as a point.
			var xys, lone plotter.XYs
			var line *plotter.Line
			var run plotter.XYs
			flush := func() error {
				switch {
				case len(run) == 1:
					lone = append(lone, run[0])
				case len(run) > 1:
					l, err := plotter.NewLine(run)
					if err != nil {
						return err
					}
					l.Color = colours[i]
					l.Width = vg.Points(1.5)
					p.Add(l)
					line = l
				}
				run = nil
				return nil
			}
			for j := range s.X {
				if math.IsNaN(s.Y[j]) {
					if err := flush(); err != nil {
						return nil, err
					}
					continue
				}
				xy := plotter.XY{X: s.X[j], Y: s.Y[j]}
				xys = append(xys, xy)
				run = append(run, xy)
			}
			if err := flush(); err != nil {
				return nil, err
			}
			var thumbs []gplot.Thumbnailer
			if line != nil {
				thumbs = append(thumbs, line)
			}
			if len(xys) > 40 && len(lone) > 0 {
				pts, err := plotter.NewScatter(lone)
				if err != nil {
					return nil, err
				}
				pts.Color = colours[i]
				pts.Shape = draw.CircleGlyph{}
				pts.Radius = vg.Points(2)
				p.Add(pts)
				thumbs = append(thumbs, pts)
			}
			if len(xys) <= 40 {
				pts, err := plotter.NewScatter(xys)
				if err != nil {
					return nil, err
				}
				pts.Color = colours[i]
				pts.Shape = draw.CircleGlyph{}
				pts.Radius = vg.Points(2)
				p.Add(pts)
				thumbs = append(thumbs, pts)
			}
			if s.Name != "" {
				f.legends[k].Add(s.Name, thumbs...)
				f.entries[k] = append(f.entries[k], s.Name)
			}
			if m := opt.Mark; m != nil && ring == nil && m.Panel == name && m.Series == s.Name {
				for j, x := range s.X {
					if x == m.X && !math.IsNaN(s.Y[j]) {
						ring, _ = plotter.NewScatter(plotter.XYs{{X: x, Y: s.Y[j]}})
						break
					}
				}
			}
		}
		for _, s := range byPanel[name] { // gaps at the ends keep their x
			for _, x := range s.X {
				p.X.Min, p.X.Max = math.Min(p.X.Min, x), math.Max(p.X.Max, x)
			}
		}
		if p.Y.Min == p.Y.Max { // a constant: show it mid-axis, from 0 when positive
			v := math.Abs(p.Y.Min)
			if v == 0 {
				v = 1
			}
			p.Y.Min, p.Y.Max = p.Y.Min-v, p.Y.Max+v
		}
		p.Y.Min, p.Y.Max = niceRange(p.Y.Min, p.Y.Max)
		if lo, hi := p.X.Min, p.X.Max; lo == math.Trunc(lo) && hi == math.Trunc(hi) && hi > lo && hi-lo < 16 && integral(byPanel[name]) {
			p.X.Tick.Marker = integerTicks(int(lo), int(hi)) // epochs: one label each
		}
		if m := opt.Mark; m != nil {
			p.X.Min, p.X.Max = math.Min(p.X.Min, m.X), math.Max(p.X.Max, m.X)
			if line, err := plotter.NewLine(plotter.XYs{{X: m.X, Y: p.Y.Min}, {X: m.X, Y: p.Y.Max}}); err == nil {
				line.Color = markColour
				line.Width = vg.Points(0.8)
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(line)
			}
			if ring != nil {
				ring.Shape = draw.RingGlyph{}
				ring.Color = markColour
				ring.Radius = vg.Points(5.5)
				p.Add(ring)
				if m.Label != "" {
					f.legends[k].Add(m.Label, ring)
					f.entries[k] = append(f.entries[k], m.Label)
				}
			}
		}
		if s := f.legends[k].Rectangle(draw.Canvas{}).Size(); s.X > f.legendW {
			f.legendW = s.X
		}
		f.plots[k] = []*gplot.Plot{p}
	}
	if f.legendW > 0 {
		f.legendW += vg.Points(10)
	}
	return f, nil
}

// titleStyle is the style of a figure title drawn over several panels.
func titleStyle() text.Style {
	return text.Style{Font: font.From(sans, 13), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: gplot.DefaultTextHandler, Color: color.Black}
}

func (f *curves) write(path string) error {
	panels := len(f.plots)
	var titleH vg.Length
	ts := titleStyle()
	if f.title != "" {
		titleH = ts.Height(f.title) + vg.Points(10)
	}
	w := max(6.5*vg.Inch+f.legendW, ts.Width(f.title)+vg.Inch)
	h := vg.Length(panels)*2.4*vg.Inch + 0.2*vg.Inch + titleH
	return writePNG(path, w, h, func(c draw.Canvas) error {
		if f.title != "" {
			c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(6)}, f.title)
		}
		tiles := draw.Tiles{
			Rows: panels, Cols: 1,
			PadY:   vg.Points(10),
			PadTop: vg.Points(6), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10),
		}
		canvases := gplot.Align(f.plots, tiles, draw.Crop(c, 0, -f.legendW, 0, -titleH))
		for k := range f.plots {
			f.plots[k][0].Draw(canvases[k][0])
			// The legend beside the panel, level with the top of its data.
			da := f.plots[k][0].DataCanvas(canvases[k][0])
			lc := c
			lc.Min = vg.Point{X: c.Max.X - f.legendW + vg.Points(2), Y: canvases[k][0].Min.Y}
			lc.Max = vg.Point{X: c.Max.X, Y: da.Max.Y}
			f.legends[k].Draw(lc)
		}
		return nil
	})
}

// integral reports whether every x of series is a whole number.
func integral(series []Series) bool {
	for _, s := range series {
		for _, x := range s.X {
			if x != math.Trunc(x) {
				return false
			}
		}
	}
	return true
}

// bad reports whether v is NaN or infinite.
func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
