package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/dist"
)

// bnBlobs is blobs with a batch norm after the first layer, so that shards
// differ from a whole batch and running statistics must follow shard 0.
type bnBlobs struct {
	*blobs
	bn *nn.BatchNorm
}

func newBNBlobs() *bnBlobs {
	return &bnBlobs{blobs: newBlobs(1), bn: nn.NewBatchNorm("bn", 16)}
}

func (t *bnBlobs) Params() nn.Params { return append(t.blobs.Params(), t.bn.Params()...) }

func (t *bnBlobs) Step(tp *nn.Tape, b Batch, r *rand.Rand) Output {
	bb := b.(*blobBatch)
	x := nn.FromData(bb.x, len(bb.labels), len(bb.x)/len(bb.labels))
	h := nn.Dropout(tp, nn.GELU(tp, t.bn.Forward(tp, t.fc1.Forward(tp, x)), false), 0.1, r)
	logits := t.fc2.Forward(tp, h)
	pred := nn.ArgmaxRows(logits.Host(), len(bb.labels), logits.Dim(-1))
	correct := 0
	for i, l := range bb.labels {
		if pred[i] == l {
			correct++
		}
	}
	return Output{Loss: nn.CrossEntropy(tp, logits, bb.labels, 0), Sums: []float64{float64(correct)}, Out: logits}
}

// runRanks runs one rank per Comm in goroutines on tasks of mk, into dir,
// and returns rank 0's result and every rank's error.
func runRanks(t *testing.T, comms []dist.Comm, mk func(rank int) Task, cfg Config, opt Options, ctxs []context.Context) (*Result, []error) {
	t.Helper()
	res := make([]*Result, len(comms))
	errs := make([]error, len(comms))
	var wg sync.WaitGroup
	for i, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opt
			o.Comm = c
			ctx := context.Background()
			if ctxs != nil {
				ctx = ctxs[i]
			}
			if i > 0 {
				o.AfterStep = nil
			}
			res[i], errs[i] = Run(ctx, mk(i), cfg, o)
		}()
	}
	wg.Wait()
	return res[0], errs
}

func bnTask(int) Task { return newBNBlobs() }

func paramsIn(t *testing.T, path string) []float32 {
	t.Helper()
	return valuesIn(t, path, newBNBlobs().Params())
}

// TestRanksEqualShards: n ranks, one shard each, compute the bits of one
// process with n shards: metrics, weights and batch-norm statistics.
func TestRanksEqualShards(t *testing.T) {
	for _, c := range []struct {
		ranks         int
		deterministic bool
	}{{2, false}, {2, true}, {4, true}} {
		cfg := testConfig()
		cfg.Epochs, cfg.Shards = 3, c.ranks
		one := t.TempDir()
		want, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: one})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Shards = 0 // the ranks choose one shard each
		many := t.TempDir()
		got, errs := runRanks(t, dist.Loopback(c.ranks), bnTask, cfg, Options{Dir: many, Parallel: Parallel{Deterministic: c.deterministic}}, nil)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%d ranks: rank %d: %v", c.ranks, i, err)
			}
		}
		if !equalMetrics(strip(got.Epochs), strip(want.Epochs)) {
			t.Errorf("%d ranks: metrics\n%v\nwant (one process, %d shards)\n%v", c.ranks, strip(got.Epochs), c.ranks, strip(want.Epochs))
		}
		a, b := paramsIn(t, one+"/"+LastFile), paramsIn(t, many+"/"+LastFile)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%d ranks: value %d of the weights is %v, one process %v", c.ranks, i, b[i], a[i])
			}
		}
	}
}

// TestShardsDiffer: shards are a different computation from the whole
// batch (batch norm per shard, streams per shard), and learn as well.
func TestShardsDiffer(t *testing.T) {
	cfg := testConfig()
	whole, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Shards = 4
	sharded, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if equalMetrics(strip(whole.Epochs), strip(sharded.Epochs)) {
		t.Error("4 shards gave the metrics of the whole batch")
	}
	if sharded.Last < 0.8 {
		t.Errorf("4 shards: test accuracy %.3f", sharded.Last)
	}
}

// TestRanksShareLocalShards: 2 ranks of 2 shards each equal one process
// of 4 shards up to the order of the sums.
func TestRanksShareLocalShards(t *testing.T) {
	cfg := testConfig()
	cfg.Epochs, cfg.Shards = 1, 4
	one := t.TempDir()
	if _, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: one}); err != nil {
		t.Fatal(err)
	}
	many := t.TempDir()
	_, errs := runRanks(t, dist.Loopback(2), bnTask, cfg, Options{Dir: many}, nil)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	a, b := paramsIn(t, one+"/"+LastFile), paramsIn(t, many+"/"+LastFile)
	for i := range a {
		if d := math.Abs(float64(a[i] - b[i])); d > 1e-4*(1+math.Abs(float64(a[i]))) {
			t.Fatalf("value %d of the weights is %v, one process %v", i, b[i], a[i])
		}
	}
}

// TestResumeOnOtherRanks: a 2-rank run interrupted mid-epoch and resumed
// by one process ends with the bits of the 2-rank run uninterrupted.
func TestResumeOnOtherRanks(t *testing.T) {
	cfg := testConfig()
	cfg.Epochs = 3
	full := t.TempDir()
	if _, errs := runRanks(t, dist.Loopback(2), bnTask, cfg, Options{Dir: full}, nil); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opt := Options{Dir: dir, AfterStep: func(e, b int) {
		if e == 1 && b == 2 {
			cancel()
		}
	}}
	_, errs := runRanks(t, dist.Loopback(2), bnTask, cfg, opt, []context.Context{ctx, context.Background()})
	for i, err := range errs {
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("rank %d: %v, want an interruption", i, err)
		}
	}
	if _, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: dir, Resume: true}); err != nil {
		t.Fatal(err)
	}
	a, b := paramsIn(t, full+"/"+LastFile), paramsIn(t, dir+"/"+LastFile)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("value %d of the weights is %v, uninterrupted %v", i, b[i], a[i])
		}
	}
}

// TestRankFailureStopsAll: a batch that fails on one rank stops every rank
// with an error, none waits for ever.
func TestRankFailureStopsAll(t *testing.T) {
	cfg := testConfig()
	mk := func(rank int) Task {
		task := newBNBlobs()
		if rank == 1 {
			task.panicAt = 5
		}
		return task
	}
	_, errs := runRanks(t, dist.Loopback(2), mk, cfg, Options{Dir: t.TempDir()}, nil)
	var own, other int
	for _, err := range errs {
		switch {
		case err == nil:
			t.Fatal("a rank finished the run")
		case strings.Contains(err.Error(), "samples"):
			own++
		case strings.Contains(err.Error(), "another rank failed"):
			other++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if own != 1 || other != 1 {
		t.Fatalf("errors: %v", errs)
	}
}

// TestRanksRefused: shards the ranks cannot share, and a device, are
// refused before anything is written.
func TestRanksRefused(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 2
	_, errs := runRanks(t, dist.Loopback(4), bnTask, cfg, Options{Dir: t.TempDir()}, nil)
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "cannot share") {
			t.Fatalf("rank %d: %v", i, err)
		}
	}
	cfg.Shards = 3
	if _, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "divide") {
		t.Fatalf("3 shards of 16: %v", err)
	}
}

func equalMetrics(a, b []EpochMetrics) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].Values) != len(b[i].Values) || a[i].Epoch != b[i].Epoch || a[i].LR != b[i].LR || a[i].BestEpoch != b[i].BestEpoch {
			return false
		}
		for k := range a[i].Values {
			if a[i].Values[k] != b[i].Values[k] {
				return false
			}
		}
	}
	return true
}
