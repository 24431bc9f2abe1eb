package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/pcx-dev/pcx/internal/atomicfile"
)

// dpi is the resolution of the PNG files.
const dpi = 150

// sans is the typeface of every text; gonum embeds it.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot returns a gonum plot with all its text in sans.
func newPlot() *gplot.Plot {
	p := gplot.New()
	p.Title.TextStyle.Font = font.From(sans, 13)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*gplot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 9.5)
	}
	p.Legend.TextStyle.Font = font.From(sans, 10)
	return p
}

// newLegend returns an empty legend with its text in sans, for drawing
// beside a plot.
func newLegend(size vg.Length) gplot.Legend {
	l := gplot.NewLegend()
	l.TextStyle.Font = font.From(sans, size)
	l.Left = true
	l.Top = true
	l.ThumbnailWidth = vg.Points(14)
	return l
}

// writePNG draws a w × h (points) image with draw and writes it to path.
func writePNG(path string, w, h vg.Length, drawFn func(c draw.Canvas) error) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	if err := drawFn(draw.New(img)); err != nil {
		return err
	}
	return atomicfile.Write(path, func(out io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
		return err
	})
}

// tab10 is a categorical palette of ten well-separated colours (the
// "category10" colours of d3 and matplotlib).
var tab10 = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

// categorical returns n distinguishable colours: tab10 for n ≤ 10, else n
// hues around the colour wheel at alternating lightness.
func categorical(n int) []color.Color {
	out := make([]color.Color, n)
	for i := range out {
		if n <= len(tab10) {
			out[i] = tab10[i]
			continue
		}
		v := 0.85
		if i%2 == 1 {
			v = 0.6
		}
		out[i] = hsv(float64(i)/float64(n), 0.75, v)
	}
	return out
}

// hsv converts hue, saturation and value in [0, 1] to an opaque colour.
func hsv(h, s, v float64) color.Color {
	h6 := h * 6
	i := math.Floor(h6)
	f := h6 - i
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	var r, g, b float64
	switch int(i) % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{uint8(r*255 + 0.5), uint8(g*255 + 0.5), uint8(b*255 + 0.5), 0xff}
}

// integerTicks labels the integers first..last (every step-th when there
// are many) at the positions first..last.
func integerTicks(first, last int) gplot.Ticker {
	step := 1
	for (last-first)/step+1 > 16 {
		step++
	}
	var ticks []gplot.Tick
	for v := first; v <= last; v++ {
		t := gplot.Tick{Value: float64(v)}
		if (v-first)%step == 0 {
			t.Label = fmt.Sprint(v)
		}
		ticks = append(ticks, t)
	}
	return gplot.ConstantTicks(ticks)
}

// matrix checks that m is a non-empty rectangular matrix of finite values
// and returns its shape; what names it in errors.
func matrix(m [][]float64, what string) (rows, cols int, err error) {
	if len(m) == 0 {
		return 0, 0, fmt.Errorf("plot: %s: no rows", what)
	}
	cols = len(m[0])
	if cols == 0 {
		return 0, 0, fmt.Errorf("plot: %s: row 0 is empty", what)
	}
	for i, r := range m {
		if len(r) != cols {
			return 0, 0, fmt.Errorf("plot: %s: row %d has %d values, row 0 has %d", what, i, len(r), cols)
		}
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, 0, fmt.Errorf("plot: %s: value [%d][%d] is %v", what, i, j, v)
			}
		}
	}
	return len(m), cols, nil
}

// clamp returns v limited to [lo, hi].
func clamp(v, lo, hi vg.Length) vg.Length {
	return vg.Length(math.Min(math.Max(float64(v), float64(lo)), float64(hi)))
}

// niceStep is the distance between niceTicks' labelled ticks on [lo, hi]:
// 1, 2, 2.5 or 5 × 10^k, about a sixth of the range.
func niceStep(lo, hi float64) float64 {
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// niceRange widens [lo, hi] to the nearest multiples of niceStep that
// enclose it, so that an axis starts and ends on labelled ticks and its
// labels cover all the data (data reaching 0.99 gets a tick at 1.0). An
// empty or non-finite range comes back unchanged.
func niceRange(lo, hi float64) (float64, float64) {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return lo, hi
	}
	for range 8 { // the step grows at most a few times before it settles
		step := niceStep(lo, hi)
		nlo, nhi := math.Floor(lo/step+1e-9)*step, math.Ceil(hi/step-1e-9)*step
		if nlo == lo && nhi == hi {
			break
		}
		lo, hi = nlo, nhi
	}
	return lo, hi
}

// niceTicks marks about six round values (1, 2, 2.5 or 5 × 10^k apart)
// across the axis range, with minor ticks between them.
var niceTicks = gplot.TickerFunc(func(lo, hi float64) []gplot.Tick {
	if !(hi > lo) {
		return []gplot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	step := niceStep(lo, hi)
	// Decimals that show the step exactly.
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if m := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9)); math.Abs(m-2.5) < 1e-9 {
		prec++
	}
	var ticks []gplot.Tick
	first := math.Ceil(lo/step - 1e-9)
	for k := first; k*step <= hi+step*1e-9; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		label := strconv.FormatFloat(v, 'f', prec, 64)
		switch {
		case v == 0:
			label = "0"
		case prec > 4 || math.Abs(v) >= 1e6:
			label = strconv.FormatFloat(v, 'g', 3, 64)
		}
		ticks = append(ticks, gplot.Tick{Value: v, Label: label})
		if minor := v + step/2; minor <= hi {
			ticks = append(ticks, gplot.Tick{Value: minor})
		}
	}
	if first*step-step/2 >= lo {
		ticks = append(ticks, gplot.Tick{Value: first*step - step/2})
	}
	return ticks
})
