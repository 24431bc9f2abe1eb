package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math/rand/v2"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

const (
	legendRows = 20   // the most entries in one column of Scatter's legend
	maxClasses = 1000 // the most classes Scatter draws
)

// scatterShapes mark classes, a shape per run of ten classes.
var scatterShapes = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{},
	draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

// classColours are twenty well-separated colours: tab10, then ten that
// resemble none of them.
var classColours = append(append([]color.RGBA(nil), tab10...),
	color.RGBA{0x00, 0x00, 0x00, 0xff}, color.RGBA{0x00, 0x00, 0x75, 0xff}, color.RGBA{0x80, 0x00, 0x00, 0xff},
	color.RGBA{0x46, 0x99, 0x90, 0xff}, color.RGBA{0xf0, 0x32, 0xe6, 0xff}, color.RGBA{0xe6, 0xc3, 0x00, 0xff},
	color.RGBA{0x80, 0x80, 0x00, 0xff}, color.RGBA{0x7f, 0xdc, 0x9b, 0xff}, color.RGBA{0xc8, 0xa2, 0xf0, 0xff},
	color.RGBA{0xff, 0xb2, 0x7f, 0xff})

// paletteClasses is the most classes classStyle draws from classColours
// (20 colours × a shape per run of ten).
const paletteClasses = 80

// classStyle returns the glyph of class k among classes classes; no two
// classes share both colour and shape. Up to twenty classes each have
// their own colour (tab10's circles, then ten more colours as boxes); up
// to eighty the twenty colours repeat with a new shape per run of ten;
// beyond, each class has its own hue and the shapes cycle.
func classStyle(k, classes int, radius vg.Length) draw.GlyphStyle {
	if classes <= paletteClasses {
		return draw.GlyphStyle{Color: classColours[k%len(classColours)], Radius: radius, Shape: scatterShapes[k/10]}
	}
	v := 0.85
	if k%2 == 1 {
		v = 0.55
	}
	return draw.GlyphStyle{Color: hsv(float64(k)/float64(classes), 0.8, v), Radius: radius, Shape: scatterShapes[k%len(scatterShapes)]}
}

// Scatter writes to path (PNG) a 2-D embedding such as TSNE's, the paper's
// Fig. 3: point i at xy[i] coloured by its class labels[i] (≥ 0), with a
// legend beside the plot naming each class present by classNames[label]
// ("class k" when classNames is shorter; labels below 1000). Up to twenty classes differ by
// colour, more by colour and shape. The axes are hidden and scaled equally,
// since only relative positions in an embedding mean something; points are
// drawn in a fixed shuffled order so that no class hides another
// systematically. An empty title draws none.
func Scatter(path string, xy [][2]float64, labels []int, classNames []string, title string) error {
	n := len(xy)
	if n == 0 {
		return errors.New("plot: scatter: no points")
	}
	if len(labels) != n {
		return fmt.Errorf("plot: scatter: %d points but %d labels", n, len(labels))
	}
	classes := len(classNames)
	for i, l := range labels {
		if l < 0 || l >= maxClasses {
			return fmt.Errorf("plot: scatter: point %d has label %d, want 0..%d", i, l, maxClasses-1)
		}
		if bad(xy[i][0]) || bad(xy[i][1]) {
			return fmt.Errorf("plot: scatter: point %d is %v", i, xy[i])
		}
		classes = max(classes, l+1)
	}
	count := make([]int, classes)
	for _, l := range labels {
		count[l]++
	}

	radius := vg.Points(3)
	switch {
	case n > 1500:
		radius = vg.Points(1.7)
	case n > 300:
		radius = vg.Points(2.2)
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	xys := make(plotter.XYs, n)
	for j, i := range order {
		xys[j] = plotter.XY{X: xy[i][0], Y: xy[i][1]}
	}
	pts, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	pts.GlyphStyleFunc = func(j int) draw.GlyphStyle {
		return classStyle(labels[order[j]], classes, radius)
	}

	p := newPlot()
	p.Title.Text = title
	p.HideAxes()
	p.Add(pts)
	// Equal scales: widen the narrower range about its centre.
	xmin, xmax, ymin, ymax := plotter.XYRange(xys)
	span := max(xmax-xmin, ymax-ymin, 1e-12) * 1.04
	cx, cy := (xmin+xmax)/2, (ymin+ymax)/2
	p.X.Min, p.X.Max = cx-span/2, cx+span/2
	p.Y.Min, p.Y.Max = cy-span/2, cy+span/2

	var legends []gplot.Legend
	fontSize := vg.Length(10)
	if classes > legendRows {
		fontSize = 9
	}
	inColumn := 0
	for k := 0; k < classes; k++ {
		if count[k] == 0 {
			continue
		}
		name := fmt.Sprintf("class %d", k)
		if k < len(classNames) && classNames[k] != "" {
			name = classNames[k]
		}
		if len(legends) == 0 || inColumn == legendRows {
			l := newLegend(fontSize)
			l.Padding = vg.Points(1.5)
			l.ThumbnailWidth = vg.Points(10)
			legends = append(legends, l)
			inColumn = 0
		}
		legends[len(legends)-1].Add(name, glyphThumb{classStyle(k, classes, vg.Points(3.2))})
		inColumn++
	}
	// Legend columns' widths; text size needs no canvas.
	widths := make([]vg.Length, len(legends))
	var legendW vg.Length
	for i := range legends {
		r := legends[i].Rectangle(draw.Canvas{})
		widths[i] = r.Max.X - r.Min.X + vg.Points(10)
		legendW += widths[i]
	}

	side := 5.5 * vg.Inch
	w := side + legendW + vg.Points(12)
	return writePNG(path, w, side, func(c draw.Canvas) error {
		pc := draw.Crop(c, vg.Points(6), -legendW-vg.Points(6), vg.Points(6), -vg.Points(6))
		// A square data area, centred vertically.
		da := p.DataCanvas(pc)
		if d := (da.Max.Y - da.Min.Y) - (da.Max.X - da.Min.X); d > 0 {
			pc = draw.Crop(pc, 0, 0, d/2, -d/2)
		} else {
			pc = draw.Crop(pc, 0, d, 0, 0)
		}
		p.Draw(pc)
		da = p.DataCanvas(pc)
		c.StrokeLines(draw.LineStyle{Color: color.Gray{0xb0}, Width: vg.Points(0.6)}, []vg.Point{
			da.Min, {X: da.Max.X, Y: da.Min.Y}, da.Max, {X: da.Min.X, Y: da.Max.Y}, da.Min,
		})
		x := pc.Max.X + vg.Points(12)
		for i := range legends {
			lc := c
			lc.Min = vg.Point{X: x, Y: c.Min.Y}
			lc.Max = vg.Point{X: x + widths[i], Y: da.Max.Y}
			legends[i].Draw(lc)
			x += widths[i]
		}
		return nil
	})
}

// glyphThumb is a legend thumbnail: one glyph, centred.
type glyphThumb struct{ sty draw.GlyphStyle }

// Thumbnail implements gonum's plot.Thumbnailer.
func (g glyphThumb) Thumbnail(c *draw.Canvas) { c.DrawGlyph(g.sty, c.Center()) }
