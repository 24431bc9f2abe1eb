package plot

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// gaussianClusters returns classes × per points in dim dimensions: unit
// Gaussians around centres drawn with standard deviation spread.
func gaussianClusters(classes, per, dim int, spread float64, seed uint64) ([][]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = rng.NormFloat64() * spread
		}
	}
	var pts [][]float32
	var labels []int
	for c := 0; c < classes; c++ {
		for i := 0; i < per; i++ {
			row := make([]float32, dim)
			for j := range row {
				row[j] = float32(centres[c][j] + rng.NormFloat64())
			}
			pts = append(pts, row)
			labels = append(labels, c)
		}
	}
	return pts, labels
}

// knnAgreement is the mean share of each point's k nearest neighbours in
// the embedding that have its label.
func knnAgreement(xy [][2]float64, labels []int, k int) float64 {
	var agree int
	type nd struct {
		d float64
		j int
	}
	ds := make([]nd, 0, len(xy))
	for i := range xy {
		ds = ds[:0]
		for j := range xy {
			if j != i {
				dx, dy := xy[i][0]-xy[j][0], xy[i][1]-xy[j][1]
				ds = append(ds, nd{dx*dx + dy*dy, j})
			}
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a].d < ds[b].d })
		for _, c := range ds[:k] {
			if labels[c.j] == labels[i] {
				agree++
			}
		}
	}
	return float64(agree) / float64(k*len(xy))
}

func TestTSNEClusters(t *testing.T) {
	pts, labels := gaussianClusters(5, 100, 50, 3, 7)
	xy, err := TSNE(pts, 30, 1000, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(xy) != len(pts) {
		t.Fatalf("got %d points, want %d", len(xy), len(pts))
	}
	for i, p := range xy {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
			t.Fatalf("point %d is %v", i, p)
		}
	}
	a := knnAgreement(xy, labels, 5)
	t.Logf("5-NN class agreement %.3f", a)
	if a <= 0.95 {
		t.Errorf("5-NN class agreement %.3f, want > 0.95", a)
	}
	// The input's clusters are not in the random initial embedding: a
	// shuffled labelling must not agree, or the check above means nothing.
	shuffled := append([]int(nil), labels...)
	rand.New(rand.NewPCG(3, 3)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if a := knnAgreement(xy, shuffled, 5); a > 0.5 {
		t.Errorf("5-NN agreement with shuffled labels %.3f, want near 0.2", a)
	}
}

func TestTSNEDeterministic(t *testing.T) {
	pts, _ := gaussianClusters(3, 50, 10, 3, 1)
	a, err := TSNE(pts, 10, 300, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TSNE(pts, 10, 300, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, point %d: %v then %v", i, a[i], b[i])
		}
	}
	c, err := TSNE(pts, 10, 300, 6)
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("seeds 5 and 6 gave the same embedding")
	}
	// One goroutine or several: the same numbers.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	d, err := TSNE(pts, 10, 300, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != d[i] {
			t.Fatalf("GOMAXPROCS 1, point %d: %v, was %v", i, d[i], a[i])
		}
	}
}

func TestTSNEEdgeCases(t *testing.T) {
	dup := make([][]float32, 30)
	for i := range dup {
		dup[i] = []float32{1, 2, 3}
	}
	for _, tc := range []struct {
		name string
		pts  [][]float32
		perp float64
	}{
		{"two samples", [][]float32{{0, 1}, {1, 0}}, 30},
		{"perplexity above N", [][]float32{{0}, {1}, {2}, {10}, {11}}, 30},
		{"all identical", dup, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xy, err := TSNE(tc.pts, tc.perp, 300, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(xy) != len(tc.pts) {
				t.Fatalf("got %d points", len(xy))
			}
			for i, p := range xy {
				if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
					t.Fatalf("point %d is %v", i, p)
				}
			}
		})
	}
}

func TestTSNEBadInput(t *testing.T) {
	ok := [][]float32{{0, 1}, {1, 0}, {2, 2}}
	for _, tc := range []struct {
		name  string
		pts   [][]float32
		perp  float64
		iters int
		want  string
	}{
		{"no samples", nil, 30, 100, "at least 2 samples"},
		{"one sample", [][]float32{{1, 2}}, 30, 100, "at least 2 samples"},
		{"no features", [][]float32{{}, {}}, 30, 100, "no features"},
		{"ragged", [][]float32{{0, 1}, {1}}, 30, 100, "sample 1 has 1 features"},
		{"NaN", [][]float32{{0, 1}, {float32(math.NaN()), 0}}, 30, 100, "sample 1 feature 0 is NaN"},
		{"Inf", [][]float32{{0, float32(math.Inf(1))}, {1, 0}}, 30, 100, "sample 0 feature 1 is +Inf"},
		{"zero perplexity", ok, 0, 100, "perplexity"},
		{"NaN perplexity", ok, math.NaN(), 100, "perplexity"},
		{"no iterations", ok, 30, 0, "at least 1 iteration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TSNE(tc.pts, tc.perp, tc.iters, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestVPTreeExact checks the tree's neighbours against brute force.
func TestVPTreeExact(t *testing.T) {
	pts, _ := gaussianClusters(4, 50, 20, 2, 9)
	n, dim, k := len(pts), 20, 15
	data := make([]float32, 0, n*dim)
	for _, r := range pts {
		data = append(data, r...)
	}
	tree := newVPTree(data, n, dim, rand.New(rand.NewPCG(1, 2)))
	buf := make([]neighbour, 0, k+1)
	got := make([]neighbour, k)
	for i := 0; i < n; i++ {
		tree.search(i, k, buf, got)
		var all []neighbour
		for j := 0; j < n; j++ {
			if j != i {
				all = append(all, neighbour{tree.dist(i, j), int32(j)})
			}
		}
		sort.Slice(all, func(a, b int) bool { return worse(all[b], all[a]) })
		for m := 0; m < k; m++ {
			if got[m] != all[m] {
				t.Fatalf("point %d neighbour %d: got %v, want %v", i, m, got[m], all[m])
			}
		}
	}
}

// BenchmarkTSNE embeds 2,900 samples of 768 features (the size of a
// feature dump of the paper's Fig. 3), 5 classes, 1000 iterations: about
// 9 s on the project's 2-core machine under load, half of it the exact
// nearest neighbours (isotropic Gaussians are the vantage-point tree's worst
// case), half the 1000 Barnes-Hut iterations.
func BenchmarkTSNE(b *testing.B) {
	pts, _ := gaussianClusters(5, 580, 768, 0.5, 11)
	b.ResetTimer()
	for b.Loop() {
		if _, err := TSNE(pts, 30, 1000, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQuadTreeRepulsion checks the Barnes-Hut sums against exact ones:
// equal with theta 0, close with theta 0.5.
func TestQuadTreeRepulsion(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	n := 300
	y := make([]float64, 2*n)
	for i := range y {
		y[i] = rng.NormFloat64() * 5
	}
	y[2], y[3] = y[0], y[1] // a duplicate point
	var tree quadTree
	tree.build(y)
	for _, tc := range []struct {
		theta     float64
		zMax      float64 // relative error of Z, worst point
		zMean     float64 // and mean
		forceMean float64 // mean relative error of the force (its worst is large where forces cancel)
	}{{0, 1e-9, 1e-9, 1e-9}, {0.5, 0.05, 0.02, 0.05}} {
		var stack []int32
		var worstZ, worstF, sumZ, sumF float64
		for i := 0; i < n; i++ {
			var z, fx, fy float64
			for j := 0; j < n; j++ {
				if j == i {
					continue
				}
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				q := 1 / (1 + dx*dx + dy*dy)
				z += q
				fx += q * q * dx
				fy += q * q * dy
			}
			var gz, gx, gy float64
			gz, gx, gy, stack = tree.repulsion(y[2*i], y[2*i+1], tc.theta, stack)
			ez := math.Abs(gz-z) / z
			ef := math.Hypot(gx-fx, gy-fy) / (math.Hypot(fx, fy) + 1e-9)
			worstZ, worstF = max(worstZ, ez), max(worstF, ef)
			sumZ += ez
			sumF += ef
		}
		t.Logf("theta %v: relative error of Z max %.2g mean %.2g, of the force max %.2g mean %.2g", tc.theta, worstZ, sumZ/float64(n), worstF, sumF/float64(n))
		if worstZ > tc.zMax || sumZ/float64(n) > tc.zMean || sumF/float64(n) > tc.forceMean {
			t.Errorf("theta %v: errors above the limits %v, %v, %v", tc.theta, tc.zMax, tc.zMean, tc.forceMean)
		}
	}
}

// TestInputSimilarities checks P: symmetric, summing to 1, and each row's
// conditional distribution at the asked perplexity.
func TestInputSimilarities(t *testing.T) {
	pts, _ := gaussianClusters(3, 60, 8, 2, 5)
	n, dim := len(pts), 8
	data := make([]float32, 0, n*dim)
	for _, r := range pts {
		data = append(data, r...)
	}
	const perp = 10
	p := inputSimilarities(data, n, dim, 3*perp, perp, rand.New(rand.NewPCG(1, 1)))
	var total float64
	at := func(i, j int32) float64 {
		for m := p.start[i]; m < p.start[i+1]; m++ {
			if p.col[m] == j {
				return p.val[m]
			}
		}
		return 0
	}
	for i := int32(0); i < int32(n); i++ {
		for m := p.start[i]; m < p.start[i+1]; m++ {
			j := p.col[m]
			if j == i {
				t.Fatalf("P has a diagonal entry at %d", i)
			}
			if v := at(j, i); math.Abs(v-p.val[m]) > 1e-15 {
				t.Fatalf("P[%d][%d] = %v but P[%d][%d] = %v", i, j, p.val[m], j, i, v)
			}
			total += p.val[m]
		}
	}
	if math.Abs(total-1) > 1e-9 {
		t.Errorf("P sums to %v", total)
	}
	d2 := []float64{0.5, 1, 1.2, 2, 3, 3.5, 4, 6, 7, 9, 10, 12, 15, 20, 21, 30, 40, 41, 50, 60}
	out := make([]float64, len(d2))
	for _, want := range []float64{2, 5, 12} {
		calibrate(d2, want, out)
		var h float64
		for _, v := range out {
			if v > 0 {
				h -= v * math.Log(v)
			}
		}
		if got := math.Exp(h); math.Abs(got-want) > 1e-3 {
			t.Errorf("perplexity %v: got %v", want, got)
		}
	}
}
