package plot

import (
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outDir is where the tests write their PNGs: $PCX_PLOT_DIR when set (to
// look at them), else a temporary directory.
func outDir(t *testing.T) string {
	if d := os.Getenv("PCX_PLOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// readPNG decodes the PNG at path and checks it is at least minW × minH
// pixels, has many colours and is not mostly blank; it returns the set of
// its colours. minInk is the least share of non-white pixels.
func readPNG(t *testing.T, path string, minW, minH int, minInk float64) map[color.RGBA]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < minW || b.Dy() < minH {
		t.Fatalf("%s is %d×%d, want at least %d×%d", path, b.Dx(), b.Dy(), minW, minH)
	}
	colours := map[color.RGBA]int{}
	var ink int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			colours[c]++
			if c != (color.RGBA{0xff, 0xff, 0xff, 0xff}) {
				ink++
			}
		}
	}
	if len(colours) < 10 {
		t.Errorf("%s has %d colours, want ≥ 10", path, len(colours))
	}
	if frac := float64(ink) / float64(b.Dx()*b.Dy()); frac < minInk {
		t.Errorf("%s is %.1f%% ink, want ≥ %.1f%%", path, 100*frac, 100*minInk)
	}
	return colours
}

// hasColour reports whether some pixel is within 8 per channel of c.
func hasColour(colours map[color.RGBA]int, c color.Color, minPixels int) bool {
	w := color.RGBAModel.Convert(c).(color.RGBA)
	n := 0
	for k, v := range colours {
		if absDiff(k.R, w.R) <= 8 && absDiff(k.G, w.G) <= 8 && absDiff(k.B, w.B) <= 8 {
			n += v
		}
	}
	return n >= minPixels
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// fig4Shares are shares close to uniform over 4 experts in 12 blocks.
func fig4Shares(blocks, experts int) [][]float64 {
	s := make([][]float64, blocks)
	for b := range s {
		s[b] = make([]float64, experts)
		var sum float64
		for e := range s[b] {
			s[b][e] = 1 + 0.3*math.Sin(float64(3*b+5*e))
			sum += s[b][e]
		}
		for e := range s[b] {
			s[b][e] /= sum
		}
	}
	return s
}

// tokenGates are one token's softmax gates, peaked on a different expert in
// each block.
func tokenGates(blocks, experts int) [][]float64 {
	g := make([][]float64, blocks)
	for b := range g {
		g[b] = make([]float64, experts)
		var sum float64
		for e := range g[b] {
			logit := 0.8 * math.Sin(float64(2*b+3*e))
			if e == (b*3)%experts {
				logit += 2
			}
			g[b][e] = math.Exp(logit)
			sum += g[b][e]
		}
		for e := range g[b] {
			g[b][e] /= sum
		}
	}
	return g
}

func TestRoutingShares(t *testing.T) {
	dir := outDir(t)
	for _, tc := range []struct {
		name           string
		blocks, expert int
	}{
		{"fig4", 12, 4},
		{"one block", 1, 2},
		{"many", 24, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "routing_"+strings.ReplaceAll(tc.name, " ", "_")+".png")
			if err := RoutingShares(path, fig4Shares(tc.blocks, tc.expert), "Share of sub-tokens per expert"); err != nil {
				t.Fatal(err)
			}
			colours := readPNG(t, path, 600, 500, 0.1)
			for e, c := range categorical(tc.expert) {
				if !hasColour(colours, c, 50) {
					t.Errorf("expert %d's colour %v is missing", e+1, c)
				}
			}
		})
	}
}

func TestGateHeatmap(t *testing.T) {
	dir := outDir(t)
	for _, tc := range []struct {
		name  string
		gates [][]float64
	}{
		{"fig4", tokenGates(12, 4)},
		{"scores", [][]float64{{-2, 3}, {0.5, 1}, {4, -1}}},
		{"constant", [][]float64{{2, 2}, {2, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "gates_"+tc.name+".png")
			if err := GateHeatmap(path, tc.gates, "Gate probabilities of one token"); err != nil {
				t.Fatal(err)
			}
			colours := readPNG(t, path, 600, 350, 0.1)
			// The colour bar spans the whole map, light to dark.
			if !hasColour(colours, color.RGBA{0xf7, 0xfb, 0xff, 0xff}, 20) || !hasColour(colours, color.RGBA{0x08, 0x30, 0x6b, 0xff}, 20) {
				t.Error("the colour scale's ends are missing")
			}
		})
	}
}

func TestCurves(t *testing.T) {
	dir := outDir(t)
	epochs := make([]float64, 300)
	loss, acc, lr, valLoss := make([]float64, 300), make([]float64, 300), make([]float64, 300), make([]float64, 300)
	for i := range epochs {
		x := float64(i + 1)
		epochs[i] = x
		loss[i] = 2.5*math.Exp(-x/60) + 0.2 + 0.05*math.Sin(x)
		valLoss[i] = 2.5*math.Exp(-x/70) + 0.35
		acc[i] = 90 - 60*math.Exp(-x/50)
		lr[i] = 5e-4 * 0.5 * (1 + math.Cos(math.Pi*x/300))
	}
	short := []float64{1, 2, 3}
	for _, tc := range []struct {
		name   string
		series []Series
		want   int // distinct series colours to find
	}{
		{"training", []Series{
			{Name: "train", X: epochs, Y: loss, Panel: "loss", XLabel: "epoch"},
			{Name: "test", X: epochs, Y: valLoss, Panel: "loss"},
			{Name: "test accuracy (%)", X: epochs, Y: acc, Panel: "accuracy (%)", XLabel: "epoch"},
			{X: epochs, Y: lr, Panel: "learning rate", XLabel: "epoch"},
		}, 2},
		{"one point", []Series{{Name: "only", X: []float64{1}, Y: []float64{1}, Panel: "p"}}, 1},
		{"short", []Series{{Name: "a", X: short, Y: short}, {Name: "b", X: short, Y: []float64{3, 2, 1}}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "curves_"+strings.ReplaceAll(tc.name, " ", "_")+".png")
			if err := Curves(path, tc.series, CurvesOptions{}); err != nil {
				t.Fatal(err)
			}
			colours := readPNG(t, path, 900, 350, 0.02)
			for i, c := range tab10[:tc.want] {
				if !hasColour(colours, c, 10) {
					t.Errorf("series colour %d (%v) is missing", i, c)
				}
			}
		})
	}
}

func TestScatter(t *testing.T) {
	dir := outDir(t)
	pts, labels := gaussianClusters(5, 100, 50, 3, 7)
	xy, err := TSNE(pts, 30, 500, 42)
	if err != nil {
		t.Fatal(err)
	}
	many := make([]int, 400)
	manyXY := make([][2]float64, 400)
	for i := range many {
		many[i] = i % 37
		a := 2 * math.Pi * float64(many[i]) / 37
		manyXY[i] = [2]float64{10*math.Cos(a) + math.Sin(float64(i)), 10*math.Sin(a) + math.Cos(float64(i))}
	}
	for _, tc := range []struct {
		name    string
		xy      [][2]float64
		labels  []int
		names   []string
		classes int
	}{
		{"tsne", xy, labels, []string{"airplane", "chair", "lamp", "sofa", "table"}, 5},
		{"37 classes", manyXY, many, nil, 37},
		{"one point", [][2]float64{{1, 1}}, []int{3}, nil, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "scatter_"+strings.ReplaceAll(tc.name, " ", "_")+".png")
			if err := Scatter(path, tc.xy, tc.labels, tc.names, "t-SNE of features"); err != nil {
				t.Fatal(err)
			}
			colours := readPNG(t, path, 800, 800, 0.005)
			seen := map[int]bool{}
			for _, l := range tc.labels {
				seen[l] = true
			}
			for k := range seen {
				if c := classStyle(k, tc.classes, 1).Color; !hasColour(colours, c, 5) {
					t.Errorf("class %d's colour %v is missing", k, c)
				}
			}
		})
	}
}

func TestPlotBadInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"shares empty", RoutingShares(p, nil, ""), "no rows"},
		{"shares ragged", RoutingShares(p, [][]float64{{0.5, 0.5}, {1}}, ""), "row 1 has 1 values"},
		{"shares NaN", RoutingShares(p, [][]float64{{nan, 1}}, ""), "NaN"},
		{"shares negative", RoutingShares(p, [][]float64{{-0.5, 1.5}}, ""), "outside [0, 1]"},
		{"shares sum", RoutingShares(p, [][]float64{{0.2, 0.2}}, ""), "sums to 0.4"},
		{"gates empty row", GateHeatmap(p, [][]float64{{}}, ""), "row 0 is empty"},
		{"gates Inf", GateHeatmap(p, [][]float64{{0, math.Inf(-1)}}, ""), "-Inf"},
		{"curves none", Curves(p, nil, CurvesOptions{}), "no series"},
		{"curves lengths", Curves(p, []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}}, CurvesOptions{}), "2 x and 1 y"},
		{"curves empty", Curves(p, []Series{{Name: "a"}}, CurvesOptions{}), "is empty"},
		{"curves NaN", Curves(p, []Series{{Name: "a", X: []float64{1}, Y: []float64{nan}}}, CurvesOptions{}), "NaN"},
		{"scatter none", Scatter(p, nil, nil, nil, ""), "no points"},
		{"scatter labels", Scatter(p, [][2]float64{{0, 0}}, []int{0, 1}, nil, ""), "1 points but 2 labels"},
		{"scatter negative", Scatter(p, [][2]float64{{0, 0}}, []int{-1}, nil, ""), "label -1, want 0..999"},
		{"scatter huge label", Scatter(p, [][2]float64{{0, 0}}, []int{1 << 30}, nil, ""), "want 0..999"},
		{"scatter NaN", Scatter(p, [][2]float64{{0, nan}}, []int{0}, nil, ""), "NaN"},
		{"unwritable", RoutingShares(filepath.Join(dir, "no", "such", "dir.png"), [][]float64{{1}}, ""), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", tc.err, tc.want)
			}
		})
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("a failed call left %s behind (%v)", p, err)
	}
}
