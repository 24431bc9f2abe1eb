package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/dist"
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
	return evaluate(ctx, task, s, bs, workers, seed, pool, prog, each, nil)
}

// evaluate is EvaluateShowing shared among the ranks of comm (nil: alone):
// rank k evaluates batches k, k+n, k+2n… of the split's n-rank round, each
// batch's values land in their own slots of one exchanged vector, and
// every rank folds them in batch order, so the result has the bits of one
// process evaluating the whole split.
func evaluate(ctx context.Context, task Task, s Split, bs, workers int, seed uint64, pool *nn.Pool, prog *Progress, each func(Batch, Output), comm dist.Comm) (*Eval, error) {
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
	rank, ranks := 0, 1
	if comm != nil {
		rank, ranks = comm.Rank(), comm.Size()
	}
	var idx [][]int
	var global []int // the split's batch index of each of idx
	for lo, i := 0, 0; lo < n; lo, i = lo+bs, i+1 {
		if i%ranks != rank {
			continue
		}
		var b []int
		for k := lo; k < min(lo+bs, n); k++ {
			b = append(b, k)
		}
		idx = append(idx, b)
		global = append(global, i)
	}
	ev := &Eval{Metrics: task.Metrics()}
	ev.Sums = make([]float64, len(ev.Metrics))
	slot := 2 + len(ev.Sums) // objective times samples, samples, sums
	nb := (n + bs - 1) / bs
	vec := make([]float64, 1+nb*slot) // [0]: ranks that failed
	var localErr error
	if len(idx) > 0 {
		ld := startLoader(ctx, task, s, idx, 0, max(workers, 1), 2*max(workers, 1), func(i int) *rand.Rand {
			return Stream(seed, StreamEval, 0, global[i])
		})
		localErr = evalBatches(ld, task, pool, prog, each, idx, global, vec[1:], slot)
		ld.stop()
		if localErr != nil {
			vec[0] = 1
		}
	}
	if comm != nil {
		if err := comm.SumFloat64(vec); err != nil {
			return nil, fmt.Errorf("evaluate: rank %d lost the other ranks: %w", rank, err)
		}
	}
	switch {
	case localErr != nil:
		return nil, localErr
	case vec[0] > 0:
		return nil, fmt.Errorf("evaluate: rank %d: another rank failed evaluating the %s split (its message says why)", rank, s)
	}
	for i := range nb {
		at := 1 + i*slot
		ev.Loss += vec[at]
		ev.Samples += int(vec[at+1])
		for k := range ev.Sums {
			ev.Sums[k] += vec[at+2+k]
		}
	}
	ev.Loss /= float64(n)
	if math.IsNaN(ev.Loss) {
		return ev, fmt.Errorf("evaluate: the %s loss is NaN", s)
	}
	return ev, nil
}

// evalBatches runs the batches ld loads and writes each one's values to
// its slots of vec: the objective times its samples, its samples, its
// metric sums.
func evalBatches(ld *loader, task Task, pool *nn.Pool, prog *Progress, each func(Batch, Output), idx [][]int, global []int, vec []float64, slot int) error {
	for i := range idx {
		b, err := ld.next()
		if err != nil {
			return err
		}
		tp := nn.NewTapePool(false, pool).Scope() // evaluation mode, nothing recorded
		out := task.Step(tp, b, nil)
		if len(out.Sums) != slot-2 {
			tp.Release()
			return fmt.Errorf("evaluate: the task's step returned %d metric sums for its %d metrics", len(out.Sums), slot-2)
		}
		k := b.Len()
		at := global[i] * slot
		vec[at] = float64(out.Objective(tp).Host()[0]) * float64(k)
		vec[at+1] = float64(k)
		copy(vec[at+2:], out.Sums)
		if each != nil {
			each(b, out)
		}
		tp.Release()
		prog.Add(k)
	}
	return nil
}
