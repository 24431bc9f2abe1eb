package plot

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// labelledRange is the lowest and highest labelled tick of ticks.
func labelledRange(ticks []gplot.Tick) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, tk := range ticks {
		if tk.Label != "" {
			lo, hi = math.Min(lo, tk.Value), math.Max(hi, tk.Value)
		}
	}
	return lo, hi
}

// The curves figure has its title, the best epoch marked, and y axes whose
// labelled ticks cover the data (accuracy reaching 0.99 gets a 1.0 tick).
func TestCurvesFigure(t *testing.T) {
	ep := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	acc := []float64{0.06, 0.6, 0.75, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.985, 0.991, 0.988}
	loss := []float64{4.1, 1.2, 0.8, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.1}
	lr := []float64{1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3}
	series := []Series{
		{Name: "test", X: ep, Y: loss, Panel: "loss", XLabel: "epoch"},
		{Name: "train", X: ep, Y: acc, Panel: "accuracy", XLabel: "epoch"},
		{Name: "test", X: ep, Y: acc, Panel: "accuracy", XLabel: "epoch"},
		{Name: "learning rate", X: ep, Y: lr, Panel: "learning rate", XLabel: "epoch"},
	}
	const title = "run runs/synth-dapt-x: dapt-x on synth (clean)"
	opt := CurvesOptions{Title: title, Mark: &Mark{X: 11, Panel: "accuracy", Series: "test", Label: "best test 0.9910 (epoch 11)"}}
	f, err := curvesFigure(series, opt)
	if err != nil {
		t.Fatal(err)
	}
	if f.title != title {
		t.Errorf("title %q", f.title)
	}
	for k, data := range [][]float64{loss, acc, lr} {
		p := f.plots[k][0]
		lo, hi := labelledRange(p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max))
		dlo, dhi := data[0], data[0]
		for _, v := range data {
			dlo, dhi = math.Min(dlo, v), math.Max(dhi, v)
		}
		if lo > dlo || hi < dhi || p.Y.Min > dlo || p.Y.Max < dhi {
			t.Errorf("panel %d: labelled ticks %g..%g (axis %g..%g) do not cover the data %g..%g", k, lo, hi, p.Y.Min, p.Y.Max, dlo, dhi)
		}
		if k == 1 && hi != 1 {
			t.Errorf("accuracy reaching 0.991: top labelled tick %g, want 1", hi)
		}
		xt := p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max)
		labels := 0
		for _, tk := range xt {
			if tk.Label != "" {
				labels++
			}
		}
		if labels != 12 {
			t.Errorf("panel %d: %d epoch labels, want one per epoch (12)", k, labels)
		}
	}
	// The mark: in the accuracy panel's legend, and drawn in its colour.
	if e := f.entries[1]; len(e) != 3 || e[2] != opt.Mark.Label {
		t.Errorf("accuracy legend %q, want the mark's label last", e)
	}
	path := filepath.Join(outDir(t), "curves_marked.png")
	if err := Curves(path, series, opt); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(outDir(t), "curves_unmarked.png")
	if err := Curves(plain, series, CurvesOptions{Title: title}); err != nil {
		t.Fatal(err)
	}
	// Series colours here are blue and orange: red pixels are the mark's.
	red := func(colours map[color.RGBA]int) int {
		n := 0
		for c, k := range colours {
			if c.R > 170 && c.G < 140 && c.B < 140 {
				n += k
			}
		}
		return n
	}
	if m, u := red(readPNG(t, path, 900, 900, 0.02)), red(readPNG(t, plain, 900, 900, 0.02)); m < u+100 {
		t.Errorf("the best-epoch mark is not drawn (%d red pixels, %d without it)", m, u)
	}
	if err := Curves(path, series, CurvesOptions{Mark: &Mark{X: math.NaN()}}); err == nil {
		t.Error("a NaN mark accepted")
	}
}

// Every class has its own colour and shape combination, and up to twenty
// classes each their own colour.
func TestClassStylesUnique(t *testing.T) {
	for _, classes := range []int{1, 10, 11, 16, 20, 21, 37, 80, 81, 200, maxClasses} {
		type style struct {
			c     color.RGBA
			shape string
		}
		seen := map[style]int{}
		colours := map[color.RGBA]int{}
		for k := 0; k < classes; k++ {
			g := classStyle(k, classes, vg.Points(2))
			s := style{color.RGBAModel.Convert(g.Color).(color.RGBA), typeName(g.Shape)}
			if j, ok := seen[s]; ok {
				t.Fatalf("%d classes: classes %d and %d share colour %v and shape %s", classes, j, k, s.c, s.shape)
			}
			seen[s] = k
			if j, ok := colours[s.c]; ok && classes <= 20 {
				t.Errorf("%d classes: classes %d and %d share colour %v", classes, j, k, s.c)
			}
			colours[s.c] = k
		}
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// A NaN is a gap: the series' other values are drawn, lone ones as
// points, and the panel's x axis still spans the gaps at the ends
// (epochs without a probe).
func TestCurvesGaps(t *testing.T) {
	nan := math.NaN()
	ep := []float64{1, 2, 3, 4, 5, 6}
	series := []Series{
		{Name: "train", X: ep, Y: []float64{3, 2, 1.5, 1.2, 1.1, 1}, Panel: "loss", XLabel: "epoch"},
		{Name: "svm", X: ep, Y: []float64{nan, 0.5, nan, 0.6, 0.65, nan}, Panel: "probe accuracy", XLabel: "epoch"},
	}
	f, err := curvesFigure(series, CurvesOptions{Mark: &Mark{X: 5, Panel: "probe accuracy", Series: "svm", Label: "best"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := f.plots[1][0]; p.X.Min != 1 || p.X.Max != 6 || p.Y.Min > 0.5 || p.Y.Max < 0.65 {
		t.Errorf("probe panel spans x %g..%g, y %g..%g", p.X.Min, p.X.Max, p.Y.Min, p.Y.Max)
	}
	if e := f.entries[1]; len(e) != 2 || e[1] != "best" {
		t.Errorf("probe legend %q: the mark on a value is missing", e)
	}
	if err := Curves(filepath.Join(outDir(t), "curves_gaps.png"), series, CurvesOptions{}); err != nil {
		t.Fatal(err)
	}
	series[1].Y = []float64{nan, nan, nan, nan, nan, nan}
	if _, err := curvesFigure(series, CurvesOptions{}); err == nil {
		t.Error("a series of gaps only accepted")
	}
}
