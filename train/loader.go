package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// loaded is one built batch, or the error building it.
type loaded struct {
	b   Batch
	err error
}

// loader builds batches in goroutines, ahead of the model, and hands them
// out in order. At most prefetch batches wait built (or being built) ahead of
// the one the model takes next.
type loader struct {
	ctx    context.Context
	slots  []chan loaded
	tokens chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
	pos    int
}

// startLoader builds batches idx[from:] of split with workers goroutines;
// rng(i) is batch i's random stream.
func startLoader(ctx context.Context, task Task, s Split, idx [][]int, from, workers, prefetch int, rng func(int) *rand.Rand) *loader {
	ctx, cancel := context.WithCancel(ctx)
	l := &loader{ctx: ctx, slots: make([]chan loaded, len(idx)), tokens: make(chan struct{}, prefetch), cancel: cancel, pos: from}
	for i := range l.slots {
		l.slots[i] = make(chan loaded, 1)
	}
	var next atomic.Int64
	next.Store(int64(from))
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case l.tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(idx) {
					return
				}
				b, err := buildBatch(task, s, idx[i], i, rng(i))
				l.slots[i] <- loaded{b, err}
			}
		}()
	}
	return l
}

// buildBatch runs task.Batch for batch i of split s, turning a panic into
// an error that names the batch and its first samples: the run ends with
// that error instead of the process.
func buildBatch(task Task, s Split, idx []int, i int, r *rand.Rand) (b Batch, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("train: building %s batch %d (samples %s) failed: %v", s, i+1, samples(idx), p)
		}
	}()
	return task.Batch(s, idx, r)
}

// samples lists sample indices for a message, at most 8 of them.
func samples(idx []int) string {
	var b strings.Builder
	for k, v := range idx {
		if k == 8 {
			fmt.Fprintf(&b, " … (%d in all)", len(idx))
			break
		}
		if k > 0 {
			b.WriteString(" ")
		}
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}

// next returns the next batch in order, or the context's error.
func (l *loader) next() (Batch, error) {
	select {
	case r := <-l.slots[l.pos]:
		l.pos++
		<-l.tokens
		return r.b, r.err
	case <-l.ctx.Done():
		return nil, l.ctx.Err()
	}
}

// stop ends the workers and waits for them.
func (l *loader) stop() {
	l.cancel()
	l.wg.Wait()
}
