package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/dist"
	"github.com/pcx-dev/pcx/nn/optim"
)

// This file holds how a run splits its batches into shards and, in a
// data-parallel run, among ranks: every rank runs its shards of each batch,
// the ranks exchange one small vector a step (who failed or stops, each
// shard's loss and metric sums) and then sum their gradients. Each shard's
// values sit in their own slots of the vector, the others zero, so the sum
// over ranks is exact and every rank folds them in shard order, as a
// single process does.

// primary says this process writes the run: rank 0, or the only process.
func (r *runner) primary() bool { return r.comm == nil || r.comm.Rank() == 0 }

func (r *runner) rank() int {
	if r.comm == nil {
		return 0
	}
	return r.comm.Rank()
}

func (r *runner) ranks() int {
	if r.comm == nil {
		return 1
	}
	return r.comm.Size()
}

// shardCount is the number of shards of a batch; localShards those this
// rank runs.
func (r *runner) shardCount() int  { return max(r.cfg.Shards, 1) }
func (r *runner) localShards() int { return r.shardCount() / r.ranks() }

// shardStream is the index of the random streams (data and model) of this
// rank's local shard j of batch b: b itself for a batch of one shard, as a
// run without shards has always drawn.
func (r *runner) shardStream(b, j int) int {
	return b*r.shardCount() + r.rank()*r.localShards() + j
}

// open prepares the run directory on rank 0: the lock's leftovers, then a
// resumed or a fresh run.
func (r *runner) open(lk *DirLock) error {
	if n := len(lk.Removed); n > 0 {
		r.logf("removed %d temporary file(s) of interrupted writes from %s: %s\n", n, r.opt.Dir, strings.Join(lk.Removed[:min(n, 4)], ", "))
		lk.Removed = nil
	}
	if r.opt.Resume {
		if err := r.resume(); err != nil {
			return err
		}
		if w := r.ranks(); r.keptShards && r.shardCount()%w != 0 {
			r.logf("the run had %d shards a batch, which %d ranks cannot share: it goes on with %d\n", r.shardCount(), w, w)
			r.cfg.Shards = w
		}
		return r.checkShards()
	}
	if err := r.checkShards(); err != nil {
		return err
	}
	if err := StartFresh(r.opt.Dir, r.opt.Overwrite); err != nil {
		return err
	}
	// A usable checkpoint exists from the start, so that a run that fails
	// in its first epoch still leaves one.
	if err := r.save(LastFile); err != nil {
		return err
	}
	return r.writeMetrics()
}

// checkShards checks that the shards split the batch and the ranks share
// them.
func (r *runner) checkShards() error {
	s, w := r.shardCount(), r.ranks()
	if r.cfg.BatchSize%s != 0 {
		return fmt.Errorf("train: %d shards cannot split a batch of %d", s, r.cfg.BatchSize)
	}
	if s%w != 0 {
		return fmt.Errorf("train: %d ranks cannot share %d shards a batch; give a number of shards (--shards) that they divide", w, s)
	}
	return nil
}

// startState is what rank 0 sends the other ranks at the start: where the
// run stands and the sizes of the optimiser's buffers that follow.
type startState struct {
	State   runState       `json:"state"`
	Moments map[string]int `json:"moments"`
}

// shareStart ends the start of a run: rank 0 tells the others whether it
// could start (err0 is its error) and sends them its position, parameters
// and optimiser state, so that every rank begins from the same bits.
func (r *runner) shareStart(err0 error) error {
	if r.comm == nil {
		return err0
	}
	var msg []byte
	moments := map[string][]float32{}
	if r.primary() {
		if err0 != nil {
			msg = append([]byte{1}, err0.Error()...)
		} else {
			moments = r.adam.State()
			st := startState{State: r.state(), Moments: map[string]int{}}
			for k, v := range moments {
				st.Moments[k] = len(v)
			}
			j, err := json.Marshal(st)
			if err != nil {
				return err
			}
			msg = append([]byte{0}, j...)
		}
	}
	msg, err := dist.BroadcastBytes(r.comm, msg, 0)
	if err != nil {
		return fmt.Errorf("train: rank %d: the start of the run: %w", r.rank(), err)
	}
	if err0 != nil {
		return err0
	}
	if len(msg) == 0 || msg[0] != 0 {
		return fmt.Errorf("train: rank %d: rank 0 could not start the run: %s", r.rank(), msg[min(len(msg), 1):])
	}
	var st startState
	if err := json.Unmarshal(msg[1:], &st); err != nil {
		return fmt.Errorf("train: rank %d: the start of the run: %w", r.rank(), err)
	}
	if !r.primary() {
		workers, prefetch := r.cfg.Workers, r.cfg.Prefetch
		r.cfg = st.State.Config
		r.cfg.Workers, r.cfg.Prefetch = workers, prefetch
		r.epoch, r.batch = st.State.Epoch, st.State.Batch
		r.adam.SetSteps(st.State.Steps)
		for k, n := range st.Moments {
			moments[k] = make([]float32, n)
		}
	}
	for _, p := range r.ps {
		if err := dist.BroadcastFloat32(r.comm, p.Data, 0); err != nil {
			return fmt.Errorf("train: rank %d: parameter %s: %w", r.rank(), p.Name, err)
		}
	}
	keys := make([]string, 0, len(moments))
	for k := range moments {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := dist.BroadcastFloat32(r.comm, moments[k], 0); err != nil {
			return fmt.Errorf("train: rank %d: optimiser buffer %s: %w", r.rank(), k, err)
		}
	}
	if !r.primary() {
		r.adam.Load(moments)
	}
	return nil
}

// How a step ends.
type stepEnd int

const (
	stepDone  stepEnd = iota
	stopNow           // interrupted before the step: nothing changed
	stopAfter         // interrupted during the step, which completed
)

// The exchange vector's head: ranks that failed, ranks interrupted before
// their shards, ranks interrupted since.
const (
	exFailed = iota
	exStopNow
	exStopAfter
	exHead
)

// step runs optimiser step b of epoch e: this rank's shards of the batch
// (loaded from ld), the exchange, the sum of the gradients over shards and
// ranks, clipping and AdamW. wait is the time spent waiting for batches.
func (r *runner) step(ld *loader, lr float64, e, b int) (end stepEnd, wait float64, err error) {
	S, L := r.shardCount(), r.localShards()
	m := len(r.sums)
	slot := 2 + m // loss, samples, metric sums
	vec := make([]float64, exHead+S*slot)
	var localErr error
	var acc [][]float32 // the gradients summed over local shards (L > 1)
	var firstBuffers []float32
	ran := 0
	for j := 0; j < L; j++ {
		t0 := time.Now()
		lb, err := ld.next()
		wait += time.Since(t0).Seconds()
		if err != nil {
			if errors.Is(err, context.Canceled) || r.ctx.Err() != nil {
				vec[exStopNow] = 1
			} else {
				localErr, vec[exFailed] = fmt.Errorf("%w; %s", err, r.goodCheckpoint()), 1
			}
			break
		}
		r.ps.ZeroGrad()
		tp := nn.NewTapePool(true, r.pool).ReleaseInBackward()
		out := r.task.Step(tp, lb, Stream(r.cfg.Seed, StreamModel, e, r.shardStream(b, j)))
		loss := out.Objective(tp)
		l := float64(loss.Host()[0])
		if len(out.Sums) != m {
			tp.Release()
			localErr, vec[exFailed] = fmt.Errorf("train: the task's step returned %d metric sums for its %d metrics", len(out.Sums), m), 1
			break
		}
		at := exHead + (r.rank()*L+j)*slot
		vec[at], vec[at+1] = l, float64(lb.Len())
		copy(vec[at+2:], out.Sums)
		if math.IsNaN(l) || math.IsInf(l, 0) { // reported after the exchange
			tp.Release()
			break
		}
		tp.Backward(loss)
		tp.Release()
		ran++
		if L > 1 {
			acc = addGrads(acc, r.adam.Params)
			if r.rank()*L+j == 0 {
				// The running statistics follow the batch's first shard,
				// as PyTorch DDP's follow rank 0.
				firstBuffers = r.buffers(nil)
			}
		}
	}
	if ran == L && L > 1 {
		for k, p := range r.adam.Params {
			if acc[k] != nil {
				p.SetHostGrad(acc[k])
			} else if p.Device() == nil {
				p.Grad = nil
			}
		}
	}
	if firstBuffers != nil {
		r.setBuffers(firstBuffers)
	}
	if r.ctx.Err() != nil {
		vec[exStopAfter] = 1
	}
	t0 := time.Now()
	if r.comm != nil {
		if err := r.comm.SumFloat64(vec); err != nil {
			return 0, wait, r.commFailed(err, e, b)
		}
	}
	switch {
	case vec[exFailed] > 0 && localErr != nil:
		return 0, wait, localErr
	case vec[exFailed] > 0:
		return 0, wait, fmt.Errorf("train: rank %d: another rank failed at epoch %d, step %d (its message says why); %s", r.rank(), e+1, b+1, r.goodCheckpoint())
	case vec[exStopNow] > 0:
		return stopNow, wait, nil
	}
	for s := range S {
		if l := vec[exHead+s*slot]; math.IsNaN(l) || math.IsInf(l, 0) {
			return 0, wait, r.nonFinite("loss", l, e, b)
		}
	}
	if r.comm != nil {
		if err := r.sumGrads(); err != nil {
			return 0, wait, r.commFailed(err, e, b)
		}
		bufs := r.buffers(nil)
		if err := dist.BroadcastFloat32(r.comm, bufs, 0); err != nil {
			return 0, wait, r.commFailed(err, e, b)
		}
		r.setBuffers(bufs)
		r.commSec += time.Since(t0).Seconds()
	}
	if S > 1 {
		scale := float32(1 / float64(S))
		for _, p := range r.adam.Params {
			for i := range p.Grad {
				p.Grad[i] *= scale
			}
		}
	}
	norm := optim.ClipGradNorm(r.adam.Params, clipOrInf(r.cfg.ClipGrad))
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return 0, wait, r.nonFinite("gradient norm", norm, e, b)
	}
	r.adam.Step(lr)
	var l float64
	for s := range S {
		at := exHead + s*slot
		l += vec[at]
		r.seen += int(vec[at+1])
		for i := range r.sums {
			r.sums[i] += vec[at+2+i]
		}
	}
	r.lossSum += l / float64(S)
	if r.comm != nil && vec[exStopAfter] > 0 {
		return stopAfter, wait, nil
	}
	return stepDone, wait, nil
}

// addGrads adds the parameters' gradients to acc (nil: a copy of them).
func addGrads(acc [][]float32, ps nn.Params) [][]float32 {
	if acc == nil {
		acc = make([][]float32, len(ps))
	}
	for k, p := range ps {
		grad := p.HostGrad() // a copy from a device
		switch {
		case grad == nil:
		case acc[k] == nil:
			acc[k] = slices.Clone(grad)
		default:
			a := acc[k]
			for i, g := range grad {
				a[i] = a[i] + g
			}
		}
	}
	return acc
}

// gradBucket is the most gradient values summed in one call.
const gradBucket = 1 << 22

// sumGrads sums the trainable parameters' gradients over the ranks, in
// buckets of at most gradBucket values.
func (r *runner) sumGrads() error {
	ps := r.adam.Params
	// On the host the sums land in the gradients themselves; a device's
	// gradients are summed in host copies and uploaded back.
	grads := make([][]float32, len(ps))
	for k, p := range ps {
		if grads[k] = p.HostGrad(); grads[k] == nil {
			grads[k] = make([]float32, p.Len())
		}
	}
	buf := make([]float32, 0, gradBucket)
	var pending []int
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := r.comm.SumFloat32(buf, r.opt.Deterministic); err != nil {
			return err
		}
		off := 0
		for _, k := range pending {
			off += copy(grads[k], buf[off:])
		}
		buf, pending = buf[:0], pending[:0]
		return nil
	}
	for k, g := range grads {
		if len(g) > gradBucket { // a parameter larger than a bucket: on its own
			if err := flush(); err != nil {
				return err
			}
			if err := r.comm.SumFloat32(g, r.opt.Deterministic); err != nil {
				return err
			}
			continue
		}
		if len(buf)+len(g) > gradBucket {
			if err := flush(); err != nil {
				return err
			}
		}
		buf = append(buf, g...)
		pending = append(pending, k)
	}
	if err := flush(); err != nil {
		return err
	}
	for k, p := range ps {
		p.SetHostGrad(grads[k])
	}
	return nil
}

// buffers appends the values of every buffer (batch-norm statistics) to
// dst; setBuffers puts such values back.
func (r *runner) buffers(dst []float32) []float32 {
	for _, p := range r.ps {
		if p.Buffer {
			dst = append(dst, p.Tensor.Host()...) // a copy from a device
		}
	}
	return dst
}

func (r *runner) setBuffers(v []float32) {
	for _, p := range r.ps {
		if p.Buffer {
			v = v[copy(p.Data, v):]
			nn.Params{p}.Upload() // to its device, if it has one
		}
	}
}

// commFailed is the error of a failed exchange among the ranks.
func (r *runner) commFailed(err error, e, b int) error {
	return fmt.Errorf("train: rank %d lost the other ranks at epoch %d, step %d: %w; %s", r.rank(), e+1, b+1, err, r.goodCheckpoint())
}

// logCommunication says what the ranks exchange each step: the gradients of
// the trainable parameters (all that a PEFT method trains), the running
// statistics rank 0 broadcasts and the small exchange vector.
func (r *runner) logCommunication() {
	grads := r.adam.Params.Count()
	stats := len(r.buffers(nil))
	ex := exHead + r.shardCount()*(2+len(r.sums))
	r.logf("data parallel: %d ranks × %d shard(s) of %d samples; a step sums %d gradient values (%.2f MB, %.1f%% of the %d parameters) "+
		"and sends %d running statistics and %d exchange values\n", r.ranks(), r.localShards(), r.cfg.BatchSize/r.shardCount(),
		grads, float64(4*grads)/1e6, 100*float64(grads)/float64(max(r.ps.Count(), 1)), r.ps.Count(), stats, ex)
}

// exchangeShare is the epoch line's share of the training time, trainSec,
// spent in exchanges among ranks, waiting for the slowest included ("" for
// a process alone).
func (r *runner) exchangeShare(trainSec float64) string {
	if r.comm == nil {
		return ""
	}
	return fmt.Sprintf("  exchange %.1f%%", 100*r.commSec/math.Max(trainSec, 1e-9))
}
