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
	Correct, Total int
	// Loss is the task's loss averaged over samples (each batch's mean
	// weighted by its size).
	Loss float64
	// Labels and Preds are per sample, in split order.
	Labels, Preds []int
	// Logits holds each sample's logits, in split order.
	Logits [][]float32
}

// Acc is the accuracy.
func (e *Eval) Acc() float64 {
	if e.Total == 0 {
		return 0
	}
	return float64(e.Correct) / float64(e.Total)
}

// Evaluate runs the model in evaluation mode over split s in order, in
// batches of bs built by workers goroutines. Batches draw randomness (for
// test-time augmentation) from Stream(seed, StreamEval, 0, batch).
func Evaluate(ctx context.Context, task Task, s Split, bs, workers int, seed uint64, pool *nn.Pool) (*Eval, error) {
	return EvaluateShowing(ctx, task, s, bs, workers, seed, pool, nil)
}

// EvaluateShowing is Evaluate reporting each batch's samples to prog (which
// may be nil; it is not finished here, so that one Progress can span
// several evaluations, one per vote say).
func EvaluateShowing(ctx context.Context, task Task, s Split, bs, workers int, seed uint64, pool *nn.Pool, prog *Progress) (*Eval, error) {
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
	ev := &Eval{}
	for range idx {
		b, err := ld.next()
		if err != nil {
			return nil, err
		}
		tp := nn.NewTapePool(false, pool).Scope() // evaluation mode, nothing recorded
		logits := task.Logits(tp, b, nil)
		loss := task.Loss(tp, logits, b)
		ev.Loss += float64(loss.Host()[0]) * float64(len(b.Labels()))
		labels := b.Labels()
		c := logits.Dim(-1)
		hl := logits.Host()
		pred := nn.ArgmaxRows(hl, len(labels), c)
		for i, l := range labels {
			ev.Labels = append(ev.Labels, l)
			ev.Preds = append(ev.Preds, pred[i])
			ev.Logits = append(ev.Logits, append([]float32(nil), hl[i*c:(i+1)*c]...))
			if pred[i] == l {
				ev.Correct++
			}
		}
		ev.Total += len(labels)
		tp.Release()
		prog.Add(len(labels))
	}
	ev.Loss /= float64(n)
	if math.IsNaN(ev.Loss) {
		return ev, fmt.Errorf("evaluate: the %s loss is NaN", s)
	}
	return ev, nil
}
