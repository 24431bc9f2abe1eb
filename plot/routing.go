package plot

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// shareTolerance is how far from 1 a row of RoutingShares may sum.
const shareTolerance = 1e-3

// RoutingShares writes to path (PNG) the paper's Fig. 4 (left): for each
// block, a stacked bar of the share of sub-tokens that each shared expert
// receives. shares[b][e] is expert e's share in block b; every row has the
// same number of experts, values in [0, 1] and sums to 1 (within 1e-3).
// The x axis is "block" 1..L, the y axis "share of sub-tokens" 0..1, and a
// legend beside the plot names "expert 1".."expert E" in stacking order;
// segments tall enough carry their percentage. An empty title draws none.
func RoutingShares(path string, shares [][]float64, title string) error {
	blocks, experts, err := matrix(shares, "routing shares")
	if err != nil {
		return err
	}
	for b, row := range shares {
		var sum float64
		for e, v := range row {
			if v < 0 || v > 1+shareTolerance {
				return fmt.Errorf("plot: routing shares: block %d expert %d share %v is outside [0, 1]", b, e, v)
			}
			sum += v
		}
		if math.Abs(sum-1) > shareTolerance {
			return fmt.Errorf("plot: routing shares: block %d sums to %v, not 1", b, sum)
		}
	}

	p := newPlot()
	p.Title.Text = title
	p.X.Label.Text = "block"
	p.Y.Label.Text = "share of sub-tokens"
	p.X.Min, p.X.Max = -0.5, float64(blocks)-0.5
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Padding, p.Y.Padding = 0, 0
	names := make([]string, blocks)
	for b := range names {
		names[b] = fmt.Sprint(b + 1)
	}
	p.NominalX(names...)
	p.X.Tick.Marker = nominalEvery(names)
	p.Y.Tick.Marker = gplot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"}, {Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1"}}

	colours := categorical(experts)
	legend := newLegend(10)
	legend.Padding = vg.Points(2)

	w := clamp(vg.Length(blocks)*0.42*vg.Inch+1.3*vg.Inch, 4.5*vg.Inch, 14*vg.Inch)
	// Room for the title over the bars, the legend beside them.
	w = max(w, p.Title.TextStyle.Width(title)+2.2*vg.Inch)
	h := 3.6 * vg.Inch
	for e := experts - 1; e >= 0; e-- {
		legend.Add(fmt.Sprintf("expert %d", e+1), swatch{colours[e]})
	}
	return writePNG(path, w, h, func(c draw.Canvas) error {
		lr := legend.Rectangle(c)
		lw := lr.Max.X - lr.Min.X
		pc := draw.Crop(c, vg.Points(4), -lw-vg.Points(14), vg.Points(4), -vg.Points(4))
		da := p.DataCanvas(pc)
		barW := min((da.Max.X-da.Min.X)/vg.Length(blocks)*0.72, vg.Points(60))

		var below *plotter.BarChart
		var labels plotter.XYLabels
		var styles []text.Style
		cum := make([]float64, blocks)
		for e := 0; e < experts; e++ {
			vals := make(plotter.Values, blocks)
			for b := range vals {
				vals[b] = shares[b][e]
			}
			bar, err := plotter.NewBarChart(vals, barW)
			if err != nil {
				return err
			}
			bar.Color = colours[e]
			bar.LineStyle.Color = color.White
			bar.LineStyle.Width = vg.Points(0.6)
			if below != nil {
				bar.StackOn(below)
			}
			below = bar
			p.Add(bar)
			segH := da.Max.Y - da.Min.Y
			for b, v := range vals {
				label := fmt.Sprintf("%.0f%%", 100*v)
				sty := text.Style{Font: font.From(sans, 8), XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: gplot.DefaultTextHandler, Color: textOn(colours[e])}
				r := sty.Rectangle(label)
				if vg.Length(v)*segH >= r.Max.Y-r.Min.Y+vg.Points(3) && barW >= r.Max.X-r.Min.X+vg.Points(3) {
					labels.XYs = append(labels.XYs, plotter.XY{X: float64(b), Y: cum[b] + v/2})
					labels.Labels = append(labels.Labels, label)
					styles = append(styles, sty)
				}
				cum[b] += v
			}
		}
		if len(labels.Labels) > 0 {
			l, err := plotter.NewLabels(labels)
			if err != nil {
				return err
			}
			l.TextStyle = styles
			p.Add(l)
		}
		p.Draw(pc)
		legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-lw-vg.Points(6), 0, 0, -(c.Max.Y - da.Max.Y)))
		return nil
	})
}

// nominalEvery labels nominal positions 0..n-1 with names, thinning the
// labels when there are many.
func nominalEvery(names []string) gplot.Ticker {
	step := 1
	for len(names)/step > 16 {
		step++
	}
	ticks := make([]gplot.Tick, len(names))
	for i, n := range names {
		ticks[i].Value = float64(i)
		if i%step == 0 {
			ticks[i].Label = n
		}
	}
	return gplot.ConstantTicks(ticks)
}

// swatch is a legend thumbnail: a filled square of one colour.
type swatch struct{ c color.Color }

// Thumbnail implements gonum's plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	side := c.Max.Y - c.Min.Y
	x0 := c.Min.X + (c.Max.X-c.Min.X-side)/2
	r := vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y}, Max: vg.Point{X: x0 + side, Y: c.Max.Y}}
	c.SetColor(s.c)
	c.Fill(r.Path())
}

// textOn returns black or white, whichever reads better on bg.
func textOn(bg color.Color) color.Color {
	r, g, b, _ := bg.RGBA()
	lum := (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
	if lum < 0.5 {
		return color.White
	}
	return color.Black
}

// gateGrid adapts gates[block][expert] to gonum's GridXYZ: columns are
// blocks (x = 1..L), rows experts (y = 1..E).
type gateGrid [][]float64

func (g gateGrid) Dims() (c, r int)   { return len(g), len(g[0]) }
func (g gateGrid) Z(c, r int) float64 { return g[c][r] }
func (g gateGrid) X(c int) float64    { return float64(c + 1) }
func (g gateGrid) Y(r int) float64    { return float64(r + 1) }

// GateHeatmap writes to path (PNG) the paper's Fig. 4 (right): one token's
// gate probabilities through the network, as a heat map with blocks 1..L
// on the x axis and experts 1..E on the y axis. gates[b][e] is the
// probability that block b's router gives expert e; every row has the same
// length and finite values. Each cell carries its value when it fits, and a
// colour bar beside the map gives the scale: [0, 1] when every value is in
// it, else the values' range. An empty title draws none.
func GateHeatmap(path string, gates [][]float64, title string) error {
	blocks, experts, err := matrix(gates, "gates")
	if err != nil {
		return err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range gates {
		for _, v := range row {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	label := "gate probability"
	if lo >= 0 && hi <= 1 {
		lo, hi = 0, 1
	} else {
		label = "gate value"
		if lo == hi {
			lo, hi = lo-0.5, hi+0.5
		}
	}

	dark, err := moreland.NewLuminance([]color.Color{
		color.RGBA{0x08, 0x30, 0x6b, 0xff}, color.RGBA{0x6b, 0xae, 0xd6, 0xff}, color.RGBA{0xf7, 0xfb, 0xff, 0xff},
	})
	if err != nil {
		return err
	}
	cmap := palette.Reverse(dark) // light for low values, dark for high
	cmap.SetMin(lo)
	cmap.SetMax(hi)
	heat := plotter.NewHeatMap(gateGrid(gates), cmap.Palette(256))
	heat.Min, heat.Max = lo, hi

	p := newPlot()
	p.Title.Text = title
	p.X.Label.Text = "block"
	p.Y.Label.Text = "expert"
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Tick.Marker = integerTicks(1, blocks)
	p.Y.Tick.Marker = integerTicks(1, experts)
	p.Add(heat)

	bar := newPlot()
	bar.HideX()
	bar.X.Padding, bar.Y.Padding = 0, 0
	bar.Y.Label.Text = label
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})

	w := clamp(vg.Length(blocks)*0.45*vg.Inch+1.3*vg.Inch, 4.5*vg.Inch, 14*vg.Inch)
	w = max(w, p.Title.TextStyle.Width(title)+2.2*vg.Inch) // the title over the map, the colour bar beside it
	h := clamp(vg.Length(experts)*0.42*vg.Inch+1.3*vg.Inch, 2.6*vg.Inch, 10*vg.Inch)
	const barW, margin = 14, 10 // points
	return writePNG(path, w, h, func(c draw.Canvas) error {
		// The colour bar's axis width, measured on a trial strip.
		trial := bar.DataCanvas(c)
		axisW := trial.Min.X - c.Min.X
		stripW := axisW + vg.Points(barW)
		pc := draw.Crop(c, vg.Points(4), -stripW-vg.Points(margin+16), vg.Points(4), -vg.Points(4))
		da := p.DataCanvas(pc)

		cellW := (da.Max.X - da.Min.X) / vg.Length(blocks)
		cellH := (da.Max.Y - da.Min.Y) / vg.Length(experts)
		var labels plotter.XYLabels
		var styles []text.Style
		for b, row := range gates {
			for e, v := range row {
				s := fmt.Sprintf("%.2f", v)
				col, err := cmap.At(math.Min(math.Max(v, lo), hi))
				if err != nil {
					return err
				}
				sty := text.Style{Font: font.From(sans, 8), XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: gplot.DefaultTextHandler, Color: textOn(col)}
				r := sty.Rectangle(s)
				if r.Max.X-r.Min.X+vg.Points(3) > cellW || r.Max.Y-r.Min.Y+vg.Points(2) > cellH {
					continue
				}
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(b + 1), Y: float64(e + 1)})
				labels.Labels = append(labels.Labels, s)
				styles = append(styles, sty)
			}
		}
		if len(labels.Labels) > 0 {
			l, err := plotter.NewLabels(labels)
			if err != nil {
				return err
			}
			l.TextStyle = styles
			p.Add(l)
		}
		p.Draw(pc)
		strip := c
		strip.Min = vg.Point{X: c.Max.X - stripW - vg.Points(margin), Y: da.Min.Y}
		strip.Max = vg.Point{X: c.Max.X - vg.Points(margin), Y: da.Max.Y}
		bar.Draw(strip)
		bc := bar.DataCanvas(strip)
		c.StrokeLines(draw.LineStyle{Color: color.Gray{0x60}, Width: vg.Points(0.5)}, []vg.Point{
			bc.Min, {X: bc.Max.X, Y: bc.Min.Y}, bc.Max, {X: bc.Min.X, Y: bc.Max.Y}, bc.Min,
		})
		return nil
	})
}
