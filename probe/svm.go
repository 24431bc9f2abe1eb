package probe

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/pcx-dev/pcx/internal/rng"
)

// SVMConfig holds a linear SVM's settings; LinearSVC gives scikit-learn's
// defaults.
type SVMConfig struct {
	// C is the weight of the loss against the regulariser ½‖w‖².
	C float64
	// Tol stops a sub-problem once its projected gradients over a pass
	// lie within Tol of each other (liblinear's eps).
	Tol float64
	// MaxIter bounds the passes over the samples per sub-problem.
	MaxIter int
	// InterceptScaling is the value of the extra feature whose weight,
	// times InterceptScaling, is the intercept (0: no intercept).
	InterceptScaling float64
	// Seed seeds the order in which the samples are visited.
	Seed uint64
	// Workers is the number of one-vs-rest sub-problems solved at once (0:
	// GOMAXPROCS). It does not change the result.
	Workers int
}

// LinearSVC returns scikit-learn's LinearSVC defaults (C 1, tolerance
// 1e-4, 1,000 passes, intercept_scaling 1), with seed 0.
func LinearSVC() SVMConfig {
	return SVMConfig{C: 1, Tol: 1e-4, MaxIter: 1000, InterceptScaling: 1}
}

// maxIterLimit bounds MaxIter, so that a setting cannot ask for a fit
// that never ends.
const maxIterLimit = 10_000_000

// Validate checks the settings.
func (c SVMConfig) Validate() error {
	switch {
	case !(c.C > 0) || math.IsInf(c.C, 0):
		return fmt.Errorf("probe: C must be positive and finite (got %g)", c.C)
	case !(c.Tol > 0) || math.IsInf(c.Tol, 0):
		return fmt.Errorf("probe: the tolerance must be positive and finite (got %g)", c.Tol)
	case c.MaxIter < 1 || c.MaxIter > maxIterLimit:
		return fmt.Errorf("probe: max_iter must lie in [1, %d] (got %d)", maxIterLimit, c.MaxIter)
	case !(c.InterceptScaling >= 0) || math.IsInf(c.InterceptScaling, 0):
		return fmt.Errorf("probe: intercept_scaling must be non-negative and finite (got %g)", c.InterceptScaling)
	case c.Workers < 0:
		return fmt.Errorf("probe: workers must not be negative (got %d)", c.Workers)
	}
	return nil
}

// SVM is a fitted linear SVM. With two classes it has one row of
// weights, for Classes[1] against Classes[0] (as scikit-learn's coef_);
// with more, one row per class against the rest.
type SVM struct {
	// Classes are the training labels, ascending.
	Classes []int
	// D is the number of features.
	D int
	// Coef holds the rows' weights (rows × D, row-major) and Intercept
	// their intercepts.
	Coef      []float64
	Intercept []float64
	// Iter is the number of passes each row's sub-problem took.
	Iter []int
	// Converged says every sub-problem met the tolerance within MaxIter
	// passes (scikit-learn warns otherwise).
	Converged bool
}

// Rows is the number of weight rows: 1 for two classes, else the number
// of classes.
func (s *SVM) Rows() int { return len(s.Intercept) }

// checkSet checks row-major features x of d dimensions and, when y is not
// nil, their labels, and returns the number of samples.
func checkSet(x []float32, y []int, d int, what string) (int, error) {
	if d <= 0 {
		return 0, fmt.Errorf("probe: %s features have %d dimensions", what, d)
	}
	if len(x)%d != 0 {
		return 0, fmt.Errorf("probe: %s features hold %d values, not a whole number of %d-dimensional samples", what, len(x), d)
	}
	n := len(x) / d
	if n == 0 {
		return 0, fmt.Errorf("probe: no %s samples", what)
	}
	if y != nil && len(y) != n {
		return 0, fmt.Errorf("probe: %d %s samples but %d labels", n, what, len(y))
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("probe: feature %d of %s sample %d is %v", i%d, what, i/d, v)
		}
	}
	return n, nil
}

// FitSVM fits a linear SVM to n samples of d features (x, row-major, n×d)
// and their labels y (any ints; at least two distinct). Cancelling ctx
// stops it between passes with ctx's error.
func FitSVM(ctx context.Context, x []float32, y []int, d int, cfg SVMConfig) (*SVM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, err := checkSet(x, y, d, "training")
	if err != nil {
		return nil, err
	}
	classes := slices.Clone(y)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	if len(classes) < 2 {
		return nil, fmt.Errorf("probe: the training labels hold %d class (%d); an SVM needs at least two", len(classes), classes[0])
	}
	// The samples with the bias feature appended, in float64 as liblinear
	// holds them.
	w := d
	if cfg.InterceptScaling > 0 {
		w++
	}
	xs := make([]float64, n*w)
	for i := 0; i < n; i++ {
		row := xs[i*w : (i+1)*w]
		for j, v := range x[i*d : (i+1)*d] {
			row[j] = float64(v)
		}
		if w > d {
			row[d] = cfg.InterceptScaling
		}
	}
	cls := make([]int, n) // each sample's class index
	for i, v := range y {
		cls[i], _ = slices.BinarySearch(classes, v)
	}
	rows := len(classes)
	if rows == 2 {
		rows = 1
	}
	s := &SVM{Classes: classes, D: d, Coef: make([]float64, rows*d), Intercept: make([]float64, rows), Iter: make([]int, rows), Converged: true}
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, rows))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pos := make([]bool, n)
			for k := range next {
				// Row k: class k against the rest, or with two
				// classes the second class against the first.
				target := k
				if rows == 1 {
					target = 1
				}
				for i, c := range cls {
					pos[i] = c == target
				}
				wk, iter, err := solveDual(ctx, xs, n, w, pos, cfg, rng.Stream(cfg.Seed, streamSVM, k, 0))
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					copy(s.Coef[k*d:(k+1)*d], wk[:d])
					if w > d {
						s.Intercept[k] = cfg.InterceptScaling * wk[d]
					}
					s.Iter[k] = iter
					if iter >= cfg.MaxIter {
						s.Converged = false
					}
				}
				mu.Unlock()
			}
		}()
	}
	for k := 0; k < rows; k++ {
		next <- k
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return s, nil
}

// streamSVM is the kind of the random streams ordering the samples (see
// rng.Stream); each sub-problem k draws from stream (seed, streamSVM, k, 0).
const streamSVM = 0x53564d // "SVM"

// solveDual is liblinear's coordinate descent on the dual of the
// L2-regularised squared-hinge SVM (solve_l2r_l1l2_svc with
// L2R_L2LOSS_SVC_DUAL, after Hsieh et al., ICML 2008):
//
//	min_α ½ αᵀ(Q + D)α − eᵀα, α ≥ 0,  Q_ij = y_i y_j x_iᵀx_j, D_ii = 1/(2C),
//
// with w = Σ α_i y_i x_i kept up to date, the samples visited in a random
// order each pass, those at the bound whose gradient says they will stay
// there shrunk out of the active set, and the passes stopped once the
// projected gradients lie within cfg.Tol (then once more over all samples
// if any were shrunk). It returns w and the number of passes.
func solveDual(ctx context.Context, x []float64, n, w int, pos []bool, cfg SVMConfig, r *rand.Rand) ([]float64, int, error) {
	diag := 0.5 / cfg.C
	wv := make([]float64, w)
	alpha := make([]float64, n)
	qd := make([]float64, n)
	index := make([]int, n)
	for i := 0; i < n; i++ {
		q := diag
		for _, v := range x[i*w : (i+1)*w] {
			q += v * v
		}
		qd[i] = q
		index[i] = i
	}
	inf := math.Inf(1)
	active := n
	// liblinear also keeps the smallest projected gradient of the last pass,
	// to shrink samples at an upper bound; the squared hinge has none.
	pgMaxOld := inf
	iter := 0
	for iter < cfg.MaxIter {
		if err := ctx.Err(); err != nil {
			return nil, iter, err
		}
		pgMaxNew, pgMinNew := -inf, inf
		for i := 0; i < active; i++ {
			j := i + r.IntN(active-i)
			index[i], index[j] = index[j], index[i]
		}
		for s := 0; s < active; s++ {
			i := index[s]
			row := x[i*w : (i+1)*w]
			yi := -1.0
			if pos[i] {
				yi = 1
			}
			g := dot(wv, row)*yi - 1 + alpha[i]*diag
			pg := 0.0
			if alpha[i] == 0 {
				if g > pgMaxOld {
					active--
					index[s], index[active] = index[active], index[s]
					s--
					continue
				}
				if g < 0 {
					pg = g
				}
			} else {
				pg = g // the squared hinge leaves α unbounded above
			}
			pgMaxNew = math.Max(pgMaxNew, pg)
			pgMinNew = math.Min(pgMinNew, pg)
			if math.Abs(pg) > 1e-12 {
				old := alpha[i]
				alpha[i] = math.Max(alpha[i]-g/qd[i], 0)
				d := (alpha[i] - old) * yi
				for j, v := range row {
					wv[j] += d * v
				}
			}
		}
		iter++
		if pgMaxNew-pgMinNew <= cfg.Tol {
			if active == n {
				break
			}
			active = n
			pgMaxOld = inf
			continue
		}
		pgMaxOld = pgMaxNew
		if pgMaxOld <= 0 {
			pgMaxOld = inf
		}
	}
	return wv, iter, nil
}

// Decision returns the decision values of n samples (x, n×D row-major):
// n×Rows(), each x·coef + intercept.
func (s *SVM) Decision(x []float32) ([]float64, error) {
	n, err := checkSet(x, nil, s.D, "scored")
	if err != nil {
		return nil, err
	}
	rows := s.Rows()
	out := make([]float64, n*rows)
	for i := 0; i < n; i++ {
		xi := x[i*s.D : (i+1)*s.D]
		for k := 0; k < rows; k++ {
			c := s.Coef[k*s.D : (k+1)*s.D]
			v := 0.0
			for j, f := range xi {
				v += c[j] * float64(f)
			}
			out[i*rows+k] = v + s.Intercept[k]
		}
	}
	return out, nil
}

// Predict returns the class of each of n samples (x, n×D row-major): with
// two classes Classes[1] where the decision value is positive, else the
// class of the largest decision value (the first on ties), as
// scikit-learn predicts.
func (s *SVM) Predict(x []float32) ([]int, error) {
	dec, err := s.Decision(x)
	if err != nil {
		return nil, err
	}
	rows := s.Rows()
	out := make([]int, len(dec)/rows)
	for i := range out {
		if rows == 1 {
			out[i] = s.Classes[0]
			if dec[i] > 0 {
				out[i] = s.Classes[1]
			}
			continue
		}
		best := 0
		for k := 1; k < rows; k++ {
			if dec[i*rows+k] > dec[i*rows+best] {
				best = k
			}
		}
		out[i] = s.Classes[best]
	}
	return out, nil
}

// Accuracy is the share of n samples (x, n×D row-major) whose predicted
// class is their label y.
func (s *SVM) Accuracy(x []float32, y []int) (float64, error) {
	n, err := checkSet(x, y, s.D, "scored")
	if err != nil {
		return 0, err
	}
	pred, err := s.Predict(x)
	if err != nil {
		return 0, err
	}
	right := 0
	for i, p := range pred {
		if p == y[i] {
			right++
		}
	}
	return float64(right) / float64(n), nil
}

// SVMAccuracy is Point-MAE's evaluate_svm: a linear SVM fitted on the
// training features and labels, its accuracy on the test ones (both d
// features a sample). It returns the fitted SVM too.
func SVMAccuracy(ctx context.Context, trainX []float32, trainY []int, testX []float32, testY []int, d int, cfg SVMConfig) (float64, *SVM, error) {
	if _, err := checkSet(testX, testY, d, "test"); err != nil {
		return 0, nil, err
	}
	s, err := FitSVM(ctx, trainX, trainY, d, cfg)
	if err != nil {
		return 0, nil, err
	}
	acc, err := s.Accuracy(testX, testY)
	return acc, s, err
}

// dot is the dot product of a and b (as long as a) in four running sums,
// which the processor adds in parallel; liblinear sums in one, so the two
// differ in the last bits, far below the solver's tolerance.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(a); j += 4 {
		s0 += a[j] * b[j]
		s1 += a[j+1] * b[j+1]
		s2 += a[j+2] * b[j+2]
		s3 += a[j+3] * b[j+3]
	}
	for ; j < len(a); j++ {
		s0 += a[j] * b[j]
	}
	return (s0 + s1) + (s2 + s3)
}
