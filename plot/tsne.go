package plot

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	pcxrng "github.com/pcx-dev/pcx/internal/rng"
)

// t-SNE settings, those of van der Maaten's bhtsne and of openTSNE.
const (
	tsneTheta         = 0.5  // Barnes-Hut accuracy: a cell is summarised when side/distance < theta
	tsneExaggeration  = 12.0 // early exaggeration of the input similarities ...
	tsneExaggerateFor = 250  // ... for this many iterations, also the momentum switch
	tsneMomentumEarly = 0.5
	tsneMomentumLate  = 0.8
	tsneMinGain       = 0.01
	tsneInitStd       = 1e-4 // standard deviation of the random initial embedding
)

// TSNE embeds the rows of points (N samples × D features) in 2-D with
// Barnes-Hut t-SNE (van der Maaten, "Accelerating t-SNE using tree-based
// algorithms", JMLR 2014), for plots such as the paper's Fig. 3.
//
// Input similarities are Gaussian over each sample's 3·perplexity nearest
// neighbours (exact, found with a vantage-point tree), calibrated to the
// perplexity by bisection and symmetrised. The embedding starts from a
// Gaussian of standard deviation 1e-4 and is optimised for iters iterations
// of gradient descent with gains, momentum 0.5 then 0.8, and early
// exaggeration 12, both switched at iteration 250. Repulsive forces come
// from a quadtree with theta 0.5. The gradient is the exact one of KL(P‖Q)
// (with its factor 4), and the learning rate is max(N/12/4, 50), the "auto"
// rate of Belkina et al. 2019 as scikit-learn scales it; it equals bhtsne's
// and openTSNE's N/12 (their gradients drop the 4), about their fixed 200
// for a few thousand samples. perplexity is typically 30 and iters 1000.
//
// If N−1 < 3·perplexity, the perplexity is lowered to (N−1)/3 so that
// every sample has enough neighbours. The result is deterministic for a
// seed (on one platform and Go version): the work is split over
// GOMAXPROCS goroutines, but every sum is taken in a fixed order.
//
// TSNE returns an error, never panics, for fewer than 2 samples, rows of
// different or zero length, NaN or infinite values, a perplexity that is not
// positive and finite, or iters < 1.
//
// This is an implementation written for pcx: the Go t-SNE packages found
// (github.com/danaugrs/go-tsne, github.com/sacado/tsne4go) compute the
// exact O(N²) gradient and are unmaintained.
func TSNE(points [][]float32, perplexity float64, iters int, seed uint64) ([][2]float64, error) {
	n := len(points)
	if n < 2 {
		return nil, fmt.Errorf("plot: t-SNE needs at least 2 samples, got %d", n)
	}
	dim := len(points[0])
	if dim == 0 {
		return nil, errors.New("plot: t-SNE samples have no features")
	}
	if math.IsNaN(perplexity) || math.IsInf(perplexity, 0) || perplexity <= 0 {
		return nil, fmt.Errorf("plot: t-SNE perplexity must be positive and finite, got %v", perplexity)
	}
	if iters < 1 {
		return nil, fmt.Errorf("plot: t-SNE needs at least 1 iteration, got %d", iters)
	}
	data := make([]float32, n*dim)
	for i, row := range points {
		if len(row) != dim {
			return nil, fmt.Errorf("plot: t-SNE sample %d has %d features, sample 0 has %d", i, len(row), dim)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("plot: t-SNE sample %d feature %d is %v", i, j, v)
			}
		}
		copy(data[i*dim:], row)
	}

	rng := pcxrng.New(seed)
	if limit := float64(n-1) / 3; perplexity > limit {
		perplexity = limit
	}
	k := int(3 * perplexity)
	k = min(max(k, 1), n-1)
	p := inputSimilarities(data, n, dim, k, perplexity, rng)

	y := make([]float64, 2*n)
	for i := range y {
		y[i] = rng.NormFloat64() * tsneInitStd
	}
	optimise(p, y, iters)

	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{y[2*i], y[2*i+1]}
	}
	return out, nil
}

// sparseP is the symmetric joint-probability matrix P in compressed rows.
type sparseP struct {
	start []int32 // row i is col/val[start[i]:start[i+1]]
	col   []int32
	val   []float64
}

// workers returns how many goroutines to split n items over.
func workers(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/64))
}

// parallel runs f(lo, hi) over [0, n) split into contiguous chunks.
func parallel(n int, f func(w, lo, hi int)) {
	nw := workers(n)
	if nw == 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < nw; w++ {
		lo, hi := w*n/nw, (w+1)*n/nw
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w, lo, hi)
		}()
	}
	wg.Wait()
}

// inputSimilarities finds each sample's k nearest neighbours, sets the
// conditional probabilities p_{j|i} to the given perplexity and returns
// P = (p_{j|i} + p_{i|j}) normalised to sum 1.
func inputSimilarities(data []float32, n, dim, k int, perplexity float64, rng *rand.Rand) *sparseP {
	tree := newVPTree(data, n, dim, rng)
	nbr := make([]neighbour, n*k)
	cond := make([]float64, n*k)
	parallel(n, func(_, lo, hi int) {
		buf := make([]neighbour, 0, k+1)
		d2 := make([]float64, k)
		for i := lo; i < hi; i++ {
			row := nbr[i*k : (i+1)*k]
			tree.search(i, k, buf, row)
			for j, c := range row {
				d2[j] = c.dist * c.dist
			}
			calibrate(d2, perplexity, cond[i*k:(i+1)*k])
		}
	})

	// Symmetrise: gather both directions of every pair, row by row.
	type entry struct {
		col int32
		val float64
	}
	rows := make([][]entry, n)
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			c := nbr[i*k+j].point
			v := cond[i*k+j]
			rows[i] = append(rows[i], entry{c, v})
			rows[c] = append(rows[c], entry{int32(i), v})
		}
	}
	p := &sparseP{start: make([]int32, n+1)}
	var total float64
	for i, r := range rows {
		sort.Slice(r, func(a, b int) bool { return r[a].col < r[b].col })
		for m := 0; m < len(r); {
			c, v := r[m].col, r[m].val
			for m++; m < len(r) && r[m].col == c; m++ {
				v += r[m].val
			}
			p.col = append(p.col, c)
			p.val = append(p.val, v)
			total += v
		}
		p.start[i+1] = int32(len(p.col))
	}
	for i := range p.val {
		p.val[i] /= total
	}
	return p
}

// calibrate sets out[j] = p_{j|i} ∝ exp(−β d2[j]), with β found by bisection
// so that the distribution's perplexity 2^H is the target. d2 is ascending.
func calibrate(d2 []float64, perplexity float64, out []float64) {
	// Distances relative to the nearest: the same distribution, and the
	// nearest term is exp(0) = 1, so the sum never underflows.
	base := d2[0]
	var mean float64
	for _, d := range d2 {
		mean += d - base
	}
	mean /= float64(len(d2))
	beta := 1.0
	if mean > 0 {
		beta = 1 / mean
	}
	target := math.Log(perplexity)
	lo, hi := 0.0, math.Inf(1)
	for it := 0; it < 200; it++ {
		var sum, wsum float64
		for j, d := range d2 {
			e := math.Exp(-beta * (d - base))
			out[j] = e
			sum += e
			wsum += e * (d - base)
		}
		h := math.Log(sum) + beta*wsum/sum // entropy in nats
		for j := range out {
			out[j] /= sum
		}
		if math.Abs(h-target) < 1e-5 {
			return
		}
		if h > target { // too flat: sharpen
			lo = beta
			if math.IsInf(hi, 1) {
				beta *= 2
			} else {
				beta = (beta + hi) / 2
			}
		} else {
			hi = beta
			beta = (beta + lo) / 2
		}
	}
}

// optimise runs the gradient descent on the embedding y in place.
func optimise(p *sparseP, y []float64, iters int) {
	n := len(y) / 2
	lr := math.Max(float64(n)/tsneExaggeration/4, 50)
	grad := make([]float64, 2*n)
	update := make([]float64, 2*n)
	gains := make([]float64, 2*n)
	for i := range gains {
		gains[i] = 1
	}
	attr := make([]float64, 2*n)
	rep := make([]float64, 2*n)
	zs := make([]float64, n)
	var tree quadTree
	stacks := make([][]int32, workers(n))

	for it := 0; it < iters; it++ {
		exag, momentum := 1.0, tsneMomentumLate
		if it < tsneExaggerateFor {
			exag, momentum = tsneExaggeration, tsneMomentumEarly
		}
		tree.build(y)
		parallel(n, func(w, lo, hi int) {
			stack := stacks[w]
			for i := lo; i < hi; i++ {
				xi, yi := y[2*i], y[2*i+1]
				var ax, ay float64
				for m := p.start[i]; m < p.start[i+1]; m++ {
					j := p.col[m]
					dx, dy := xi-y[2*j], yi-y[2*j+1]
					pq := p.val[m] / (1 + dx*dx + dy*dy)
					ax += pq * dx
					ay += pq * dy
				}
				attr[2*i], attr[2*i+1] = ax, ay
				zs[i], rep[2*i], rep[2*i+1], stack = tree.repulsion(xi, yi, tsneTheta, stack)
			}
			stacks[w] = stack
		})
		var z float64
		for _, v := range zs {
			z += v
		}
		for i := range grad {
			grad[i] = 4 * (exag*attr[i] - rep[i]/z)
		}
		var mx, my float64
		for i := range y {
			g := grad[i]
			if sign(g) != sign(update[i]) {
				gains[i] += 0.2
			} else {
				gains[i] = math.Max(gains[i]*0.8, tsneMinGain)
			}
			update[i] = momentum*update[i] - lr*gains[i]*g
			y[i] += update[i]
			if i&1 == 0 {
				mx += y[i]
			} else {
				my += y[i]
			}
		}
		mx /= float64(n)
		my /= float64(n)
		for i := 0; i < n; i++ {
			y[2*i] -= mx
			y[2*i+1] -= my
		}
	}
}

// sign returns −1, 0 or 1.
func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
