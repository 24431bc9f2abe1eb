package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
)

// Eval is the outcome of evaluating a split.
type Eval struct {
	// Samples is the number of samples evaluated.
	Samples int
	// Loss is the task's objective (its loss plus the weighted extra
	// losses) averaged over samples (each batch's mean weighted by its
	// size).
	Loss float64
	// Metrics are the task's metrics and Sums their sums over the split.
	Metrics []Metric
	Sums    []float64
}

// Mean is metric i's mean over the split's samples.
func (e *Eval) Mean(i int) float64 {
	if e.Samples == 0 {
		return 0
	}
	return e.Sums[i] / float64(e.Samples)
}

// Get returns the mean of the metric named name.
func (e *Eval) Get(name string) (float64, bool) {
	for i, m := range e.Metrics {
		if m.Name == name {
			return e.Mean(i), true
		}
	}
	return 0, false
}

// Evaluate runs the model in evaluation mode over split s in order, in
// batches of bs built by workers goroutines. Batches draw randomness (for
// test-time augmentation) from Stream(seed, StreamEval, 0, batch). each,
// when set, sees every batch and its step's output in order, before the
// step's tensors are released (Output.Out is valid only then).
func Evaluate(ctx context.Context, task Task, s Split, bs, workers int, seed uint64, pool *nn.Pool, each func(Batch, Output)) (*Eval, error) {
	return EvaluateShowing(ctx, task, s, bs, workers, seed, pool, nil, each)
}

// EvaluateShowing is Evaluate reporting each batch's samples to prog (which
// may be nil; it is not finished here, so that one Progress can span
// several evaluations, one per vote say).
func EvaluateShowing(ctx context.Context, task Task, s Split, bs, workers int, seed uint64, pool *nn.Pool, prog *Progress, each func(Batch, Output)) (*Eval, error) {
	n := task.Len(s)
	if n == 0 {
		return nil, fmt.Errorf("evaluate: the %s split is empty", s)
	}
	if bs <= 0 {
		return nil, fmt.Errorf("evaluate: batch size must be positive (got %d)", bs)
	}
	if pool == nil {
		pool = nn.NewPool()
	}
	var idx [][]int
	for lo := 0; lo < n; lo += bs {
		var b []int
		for i := lo; i < min(lo+bs, n); i++ {
			b = append(b, i)
		}
		idx = append(idx, b)
	}
	ld := startLoader(ctx, task, s, idx, 0, max(workers, 1), 2*max(workers, 1), func(i int) *rand.Rand {
		return Stream(seed, StreamEval, 0, i)
	})
	defer ld.stop()
	ev := &Eval{Metrics: task.Metrics()}
	ev.Sums = make([]float64, len(ev.Metrics))
	for range idx {
		b, err := ld.next()
		if err != nil {
			return nil, err
		}
		tp := nn.NewTapePool(false, pool).Scope() // evaluation mode, nothing recorded
		out := task.Step(tp, b, nil)
		if len(out.Sums) != len(ev.Sums) {
			tp.Release()
			return nil, fmt.Errorf("evaluate: the task's step returned %d metric sums for its %d metrics", len(out.Sums), len(ev.Sums))
		}
		k := b.Len()
		ev.Loss += float64(out.Objective(tp).Host()[0]) * float64(k)
		for i, v := range out.Sums {
			ev.Sums[i] += v
		}
		ev.Samples += k
		if each != nil {
			each(b, out)
		}
		tp.Release()
		prog.Add(k)
	}
	ev.Loss /= float64(n)
	if math.IsNaN(ev.Loss) {
		return ev, fmt.Errorf("evaluate: the %s loss is NaN", s)
	}
	return ev, nil
}
