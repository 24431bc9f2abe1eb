// Package train is pcx's training core. It runs epochs over a parallel data
// loader, steps AdamW with a cosine warm-up schedule (per epoch or per step)
// and gradient clipping, evaluates on the test split every epoch when there
// is one, and keeps a run directory: the resolved configuration, metrics as
// JSON lines and CSV, and the checkpoints last.safetensors and
// best.safetensors (the best epoch by a named metric), written atomically.
//
// The core knows nothing about what it trains. A Task supplies the
// parameters, builds batches (in the loader's goroutines) and runs a step,
// which returns its loss, any extra weighted losses and the sums of the
// task's named metrics; point-cloud classification and other tasks plug in
// the same way.
//
// A Task may also be a Prober: after each epoch's evaluation (or every
// n-th), the core asks it for a measure of the model as a whole (a linear
// probe's accuracy on frozen features, say) and records it beside the
// other metrics; a ShowingProber also reports how far a probe has come,
// shown on Options.Progress.
//
// Runs are reproducible: every random stream (epoch order, each batch's
// augmentation, each step's dropout) is derived from the seed, the epoch and
// the batch index, so a run repeats bit for bit on one machine and a resumed
// run continues exactly where the checkpoint stopped. A non-finite loss or
// parameter stops the run and leaves the last good checkpoint in place
// (non-finite values are never saved); cancelling the context (Ctrl-C in
// pcx) saves the state after the current step.
//
// A run owns its directory while it runs (Lock): another run into it, in
// this process or another, is refused, and a new run does not start over a
// directory holding one unless Options.Overwrite says to replace it.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/dist"
	"github.com/pcx-dev/pcx/nn/optim"
)

// Split names a side of the data.
type Split int

// The two splits a Task serves.
const (
	TrainSplit Split = iota
	TestSplit
)

func (s Split) String() string {
	if s == TrainSplit {
		return "train"
	}
	return "test"
}

// Batch is what a Task builds for one step; the core only reads its size.
type Batch interface {
	// Len is the number of samples in the batch.
	Len() int
}

// Aux is an extra loss of a step: the objective is the step's Loss plus
// Weight times each Aux's Value (a scalar).
type Aux struct {
	Name   string
	Value  *nn.Tensor
	Weight float32
}

// Output is what a step returns.
type Output struct {
	// Loss is the task's loss (a scalar, the batch's mean).
	Loss *nn.Tensor
	// Aux are extra losses, added to Loss in order, each times its weight.
	Aux []Aux
	// Sums holds, for each of the task's Metrics in order, its sum over
	// the batch's samples.
	Sums []float64
	// Out is the model's output (for Evaluate's callers; the core does
	// not read it).
	Out *nn.Tensor
}

// Objective is Loss plus the weighted extra losses, recorded on tp: what
// training minimises.
func (o Output) Objective(tp *nn.Tape) *nn.Tensor {
	total := o.Loss
	for _, a := range o.Aux {
		total = nn.Add(tp, total, nn.Scale(tp, a.Value, a.Weight))
	}
	return total
}

// Task couples a model with its data.
type Task interface {
	// Params lists every parameter and buffer; the trainable ones are
	// optimised and everything is checkpointed.
	Params() nn.Params
	// Len is the number of samples in a split.
	Len(s Split) int
	// Batch builds the batch of the given samples. It runs in the loader's
	// goroutines, concurrently with other Batch calls and with the model,
	// and must draw all its randomness from r.
	Batch(s Split, idx []int, r *rand.Rand) (Batch, error)
	// Step runs the model on b and returns its loss, extra losses and
	// metric sums; tp.Train selects training behaviour and r drives
	// dropout and drop-path (r is nil in evaluation).
	Step(tp *nn.Tape, b Batch, r *rand.Rand) Output
	// Metrics names the task's metrics, the order of Output.Sums.
	Metrics() []Metric
}

// Config holds the optimisation settings (PointMAEFineTune gives
// Point-MAE's).
type Config struct {
	Epochs       int     `yaml:"epochs" json:"epochs"`
	BatchSize    int     `yaml:"batch_size" json:"batch_size"`
	EvalBatch    int     `yaml:"eval_batch_size" json:"eval_batch_size"`
	LR           float64 `yaml:"lr" json:"lr"`
	MinLR        float64 `yaml:"min_lr" json:"min_lr"`
	WarmupLR     float64 `yaml:"warmup_lr" json:"warmup_lr"`
	WarmupEpochs int     `yaml:"warmup_epochs" json:"warmup_epochs"`
	WeightDecay  float64 `yaml:"weight_decay" json:"weight_decay"`
	ClipGrad     float64 `yaml:"grad_norm_clip" json:"grad_norm_clip"`
	Seed         uint64  `yaml:"seed" json:"seed"`
	// Workers is the number of loader goroutines (0: 2).
	Workers int `yaml:"workers" json:"workers"`
	// Prefetch bounds the batches built ahead of the model (0: 2×Workers).
	Prefetch int `yaml:"prefetch" json:"prefetch"`
	// Best names the metric that chooses best.safetensors: train_loss,
	// test_loss, or train_<m> or test_<m> for a metric m of the task, or
	// probe_<m> for a probe metric m of a Prober (larger is better when
	// the metric says so, otherwise smaller). ""
	// is the task's first metric (the loss if it has none) on the test
	// split, or on the training split when there is no test split.
	Best string `yaml:"best,omitempty" json:"best,omitempty"`
	// Shards splits each batch into this many equal shards, each run on
	// its own as one rank of a data-parallel run does (its own batch-norm
	// statistics, its own random streams), their gradients summed in shard
	// order (0 or 1: the batch is one piece). N ranks run N shards, one
	// each; a single process with Shards N computes what N ranks compute.
	// It must divide BatchSize, and the number of ranks must divide it.
	Shards int `yaml:"shards,omitempty" json:"shards,omitempty"`
	// ScheduleUnit is "step" to move the learning rate every optimiser
	// step (warm-up and cosine counted in steps: WarmupEpochs and Epochs
	// times the steps of an epoch); "" or "epoch" move it once per epoch.
	ScheduleUnit string `yaml:"schedule_unit,omitempty" json:"schedule_unit,omitempty"`
}

// PointMAEFineTune returns Point-MAE's fine-tuning schedule: 300 epochs of
// batch 32 (evaluation 64), AdamW lr 5e-4 and weight decay 0.05, 10
// warm-up epochs from 1e-6, cosine to 1e-6, gradient norm clipped at 10.
func PointMAEFineTune() Config {
	return Config{Epochs: 300, BatchSize: 32, EvalBatch: 64, LR: 5e-4, MinLR: 1e-6, WarmupLR: 1e-6,
		WarmupEpochs: 10, WeightDecay: 0.05, ClipGrad: 10}
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("epochs must be positive (got %d)", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size must be positive (got %d)", c.BatchSize)
	case c.EvalBatch < 0:
		return fmt.Errorf("evaluation batch size must not be negative (got %d)", c.EvalBatch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate must be positive and finite (got %g)", c.LR)
	case c.MinLR < 0 || c.WarmupLR < 0 || c.WeightDecay < 0 || c.ClipGrad < 0:
		return fmt.Errorf("min_lr, warmup_lr, weight_decay and grad_norm_clip must not be negative")
	case c.WarmupEpochs < 0:
		return fmt.Errorf("warm-up epochs must not be negative (got %d)", c.WarmupEpochs)
	case c.Workers < 0 || c.Prefetch < 0:
		return fmt.Errorf("workers and prefetch must not be negative")
	case c.ScheduleUnit != "" && c.ScheduleUnit != "epoch" && c.ScheduleUnit != "step":
		return fmt.Errorf("schedule_unit must be epoch or step (got %s)", quoteShort(c.ScheduleUnit))
	case c.Shards < 0 || c.Shards > 1 && c.BatchSize%c.Shards != 0:
		return fmt.Errorf("shards must divide the batch size %d (got %d)", c.BatchSize, c.Shards)
	case len(c.Best) > 64:
		return fmt.Errorf("best must name a metric (got %s)", quoteShort(c.Best))
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.EvalBatch == 0 {
		c.EvalBatch = 2 * c.BatchSize
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Prefetch == 0 {
		c.Prefetch = 2 * c.Workers
	}
	return c
}

// Schedule is the learning rate of step batch of epoch (both 0-based) in
// a run of perEpoch steps an epoch. Per epoch (the default) it is timm's
// CosineLRScheduler stepped once per epoch after it ends, as Point-MAE's
// runner does, so epoch e ≥ 1 trains with the scheduler's value at e−1 and
// epoch 0 with its value at 0. Per step (ScheduleUnit "step") step s of
// the run trains with the value at s, warm-up and length counted in steps.
func (c Config) Schedule(epoch, batch, perEpoch int) float64 {
	if c.ScheduleUnit == "step" {
		n := float64(perEpoch)
		s := optim.Cosine{Base: c.LR, Min: c.MinLR, WarmupInit: c.WarmupLR, Warmup: float64(c.WarmupEpochs) * n, Total: float64(c.Epochs) * n}
		return s.LR(float64(epoch*perEpoch + batch))
	}
	s := optim.Cosine{Base: c.LR, Min: c.MinLR, WarmupInit: c.WarmupLR, Warmup: float64(c.WarmupEpochs), Total: float64(c.Epochs)}
	return s.LR(float64(max(epoch-1, 0)))
}

// Options are the run's surroundings.
type Options struct {
	// Dir is the run directory (created if needed).
	Dir string
	// Resume continues from Dir/last.safetensors.
	Resume bool
	// Overwrite lets a new run (not Resume) replace a run Dir holds; without
	// it such a run is refused with ErrRunExists (see StartFresh).
	Overwrite bool
	// Meta is stored in every checkpoint (the caller's description of the
	// model and data, so a checkpoint can be used on its own).
	Meta map[string]string
	// Log receives one line per epoch and the run's messages (nil: none).
	Log io.Writer
	// Progress receives the progress of each epoch's training and
	// evaluation (nil: none): bars on a terminal, otherwise a plain line
	// per tenth done at most every PlainEvery (see Progress).
	Progress io.Writer
	// OnEpoch, when set, is called after each epoch's metrics are written.
	OnEpoch func(EpochMetrics)
	// AfterStep, when set, is called after every optimiser step (tests use
	// it to interrupt runs at chosen moments).
	AfterStep func(epoch, batch int)
	// Device, when set, runs the steps and evaluations there: the
	// parameters and optimiser state move to it for the run (and back at
	// its end), checkpoints copy them to the host, batches are uploaded
	// by the operations that take them, the step's outputs come back.
	Device nn.Device
	// Parallel makes the run one rank of a data-parallel run.
	Parallel
}

// Parallel says how a process takes part in a data-parallel run.
type Parallel struct {
	// Comm, when set, makes this process one rank of a data-parallel run
	// (see dist): each rank trains on its shards of every batch and the
	// ranks sum their gradients before the optimiser step; evaluation is
	// split among them. Only rank 0 reads and writes the run directory and
	// logs; the others receive its state at the start.
	Comm dist.Comm
	// Deterministic sums the ranks' gradients in rank order, so that a run
	// repeats bit for bit (with one shard per rank, the bits of a single
	// process with as many shards); otherwise the engine's order.
	Deterministic bool
}

// Primary says the process writes the run's files: it trains alone or is
// rank 0.
func (p Parallel) Primary() bool { return p.Comm == nil || p.Comm.Rank() == 0 }

// Result summarises a run.
type Result struct {
	Epochs []EpochMetrics
	// Metric names the metric that chose the best epoch (Config.Best
	// resolved: test_acc, train_loss...).
	Metric string
	// Best is the best epoch's value of Metric, Last the last epoch's.
	Best      float64
	BestEpoch int
	Last      float64
}

// trimPool drops the step buffers the pool holds between training and
// evaluation, whose batches differ in size, and collects them at once, so
// that the process's peak holds one phase's buffers rather than both (the
// next phase allocates its own, once).
func (r *runner) trimPool() {
	if r.pool.Trim() > 0 {
		runtime.GC()
	}
}

// Errors a run can end with; each is wrapped with the details.
var (
	// ErrNonFinite: the loss, the gradient norm or the parameters became
	// NaN or Inf.
	ErrNonFinite = errors.New("non-finite values")
	// ErrInterrupted: the context was cancelled; the state was saved.
	ErrInterrupted = errors.New("interrupted")
	// ErrComplete: a run to resume has trained all its epochs already;
	// nothing was changed.
	ErrComplete = errors.New("complete")
)

// Checkpoint file names in a run directory.
const (
	LastFile = "last.safetensors"
	BestFile = "best.safetensors"
)

// Run trains task as cfg says and returns the metrics of every epoch.
func Run(ctx context.Context, task Task, cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if opt.Dir == "" {
		return nil, fmt.Errorf("train: no run directory")
	}
	if task.Len(TrainSplit) < cfg.BatchSize {
		return nil, fmt.Errorf("train: %d training samples, fewer than one batch of %d", task.Len(TrainSplit), cfg.BatchSize)
	}
	cols, best, err := columns(task, cfg.Best)
	if err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, task: task, cfg: cfg, opt: opt, ps: task.Params(), cols: cols, best: best,
		sums: make([]float64, len(task.Metrics())), comm: opt.Comm}
	if r.comm != nil && r.comm.Size() == 1 {
		r.comm = nil
	}
	if !r.primary() { // rank 0 speaks for the run
		r.opt.Log, r.opt.Progress, r.opt.OnEpoch = nil, nil, nil
	}
	if r.comm != nil && !opt.Resume && r.cfg.Shards == 0 {
		r.cfg.Shards = r.comm.Size() // one shard a rank
	}
	r.adam = optim.NewAdamW(r.ps, cfg.WeightDecay)
	if len(r.adam.Params) == 0 {
		return nil, fmt.Errorf("train: the model has no trainable parameters")
	}
	// Rank 0 owns the run directory until it returns; the other ranks
	// receive where it stands.
	var err0 error
	if r.primary() {
		var lk *DirLock
		var owned bool
		if lk, owned, err0 = claim(opt.Dir); err0 == nil {
			defer lk.release(owned)
			err0 = r.open(lk)
		}
	}
	if err := r.shareStart(err0); err != nil {
		return nil, err
	}
	if err := r.checkShards(); err != nil {
		return nil, err
	}
	if r.comm != nil {
		r.logCommunication()
	}
	d := opt.Device
	if d == nil {
		return r.loopCatch()
	}
	if err := nn.CatchDevice(func() { r.ps.ToDevice(d) }); err != nil {
		r.ps.Detach() // let go of what did move
		return nil, fmt.Errorf("train: moving the model to %v: %w", d, err)
	}
	r.logf("device: %v\n", d)
	res, err := r.loopCatch()
	// A failed device may fail again here: its error must not hide the
	// run's, nor crash the process.
	if e := nn.CatchDevice(func() { r.ps.ToHost(); r.adam.ToHost() }); e != nil {
		r.ps.Detach()
		r.adam.Detach()
		if err == nil {
			err = fmt.Errorf("train: copying the model back from %v: %w", d, e)
		}
	}
	return res, err
}

// loopCatch runs the loop, turning a device failure (nn's operations
// panic with an *nn.DeviceError) into the run's error.
func (r *runner) loopCatch() (res *Result, err error) {
	if de := nn.CatchDevice(func() { res, err = r.loop() }); de != nil {
		return nil, fmt.Errorf("train: the device failed at epoch %d, step %d: %w; the last good checkpoint is %s", r.epoch+1, r.batch+1, de, r.path(LastFile))
	}
	return res, err
}

// runner is one run's state. Its fields from epoch to best are what a
// checkpoint restores.
type runner struct {
	ctx  context.Context
	task Task
	cfg  Config
	opt  Options
	ps   nn.Params
	adam *optim.AdamW
	pool *nn.Pool

	cols []string   // the names of each epoch's Values
	best bestChoice // the metric choosing best.safetensors

	epoch, batch      int // position: epochs done, batches done in the current epoch
	lossSum           float64
	sums              []float64 // per metric, over the current epoch's samples
	seen              int
	waitSec, trainSec float64
	bestVal           float64
	bestEpoch         int
	metrics           []EpochMetrics

	// comm connects the ranks of a data-parallel run (nil: alone);
	// keptShards says a resumed run took its shards from its checkpoint.
	comm       dist.Comm
	keptShards bool
	commSec    float64 // the current epoch's time in exchanges among ranks

	// good is where the last checkpoint written or resumed from stands;
	// hasGood says there is one.
	good    runState
	hasGood bool
}

func (r *runner) path(name string) string { return filepath.Join(r.opt.Dir, name) }

func (r *runner) logf(format string, args ...any) {
	if r.opt.Log != nil {
		fmt.Fprintf(r.opt.Log, format, args...)
	}
}

func (r *runner) loop() (*Result, error) {
	cfg := r.cfg
	r.pool = nn.NewPool()
	nTrain := r.task.Len(TrainSplit)
	perEpoch := nTrain / cfg.BatchSize // the last partial batch is dropped, as Point-MAE does
	ran, runSec := 0, 0.0              // epochs finished by this process and their time, for the time left
	metrics := r.task.Metrics()
	hasTest := r.task.Len(TestSplit) > 0
	for r.epoch < cfg.Epochs {
		e := r.epoch
		lr := cfg.Schedule(e, 0, perEpoch)
		start := time.Now()
		order := Permutation(cfg.Seed, e, nTrain)
		S, L := r.shardCount(), r.localShards()
		per := cfg.BatchSize / S
		var idx [][]int
		for b := 0; b < perEpoch; b++ {
			for j := 0; j < L; j++ {
				s := r.rank()*L + j
				idx = append(idx, order[b*cfg.BatchSize+s*per:b*cfg.BatchSize+(s+1)*per])
			}
		}
		desc := fmt.Sprintf("epoch %d/%d", e+1, cfg.Epochs)
		bar := NewProgress(r.opt.Progress, perEpoch*cfg.BatchSize, desc)
		bar.Set(r.batch * cfg.BatchSize)
		ld := startLoader(r.ctx, r.task, TrainSplit, idx, r.batch*L, cfg.Workers, cfg.Prefetch, func(i int) *rand.Rand {
			return Stream(cfg.Seed, StreamData, e, r.shardStream(i/L, i%L))
		})
		for b := r.batch; b < perEpoch; b++ {
			t0 := time.Now()
			end, wait, err := r.step(ld, cfg.Schedule(e, b, perEpoch), e, b)
			if err != nil {
				ld.stop()
				return nil, err
			}
			if end == stopNow {
				ld.stop()
				bar.Finish()
				return r.interrupted()
			}
			r.waitSec += wait
			r.trainSec += time.Since(t0).Seconds()
			r.batch = b + 1
			bar.Add(cfg.BatchSize)
			if r.opt.AfterStep != nil {
				r.opt.AfterStep(e, b)
			}
			if end == stopAfter || r.comm == nil && r.ctx.Err() != nil {
				ld.stop()
				bar.Finish()
				return r.interrupted()
			}
		}
		ld.stop()
		bar.Finish()
		// Parameters gone non-finite without a non-finite loss (an
		// overflowing update in the epoch's last step) stop the run
		// before anything of this epoch is written.
		r.ps.SyncHost()
		if name, v, bad := firstNonFinite(r.ps, nil); bad {
			return nil, r.nonFinite("parameter "+name, float64(v), e, perEpoch-1)
		}
		vals := []Named{{"train_loss", r.lossSum / float64(max(perEpoch, 1))}}
		for i, mt := range metrics {
			vals = append(vals, Named{"train_" + mt.Name, r.sums[i] / float64(max(r.seen, 1))})
		}
		if hasTest {
			evBar := NewProgress(r.opt.Progress, r.task.Len(TestSplit), desc+" test")
			r.trimPool()
			ev, err := evaluate(r.ctx, r.task, TestSplit, cfg.EvalBatch, cfg.Workers, cfg.Seed, r.pool, evBar, nil, r.comm)
			r.trimPool()
			evBar.Finish()
			if err != nil {
				if r.ctx.Err() != nil {
					return r.interrupted()
				}
				return nil, fmt.Errorf("epoch %d: %w; %s", e+1, err, r.goodCheckpoint())
			}
			vals = append(vals, Named{"test_loss", ev.Loss})
			for i, mt := range metrics {
				vals = append(vals, Named{"test_" + mt.Name, ev.Mean(i)})
			}
		}
		probed, probeSec, err := r.probe(e + 1)
		if err != nil {
			if r.ctx.Err() != nil {
				return r.interrupted()
			}
			return nil, fmt.Errorf("epoch %d: %w; %s", e+1, err, r.goodCheckpoint())
		}
		vals = append(vals, probed...)
		m := EpochMetrics{Epoch: e + 1, LR: lr, Values: vals,
			Seconds: time.Since(start).Seconds(), TrainSeconds: r.trainSec,
			SamplesPerSec: float64(r.seen) / math.Max(r.trainSec, 1e-9), DataWait: r.waitSec / math.Max(r.trainSec, 1e-9),
			PeakMB: PeakRSSMB()}
		// An epoch without the metric (one not probed) cannot be best.
		v, has := m.Get(r.best.name)
		improved := has && (r.bestEpoch == 0 || r.best.better(v, r.bestVal))
		if improved {
			r.bestVal, r.bestEpoch = v, m.Epoch
		}
		m.Values = append(m.Values, Named{r.best.key(), r.bestVal})
		m.BestEpoch = r.bestEpoch
		r.metrics = append(r.metrics, m)
		r.epoch, r.batch = e+1, 0
		exchange := r.exchangeShare(r.trainSec)
		r.lossSum, r.seen, r.waitSec, r.trainSec, r.commSec = 0, 0, 0, 0, 0
		clear(r.sums)
		if improved {
			if err := r.save(BestFile); err != nil {
				return nil, err
			}
		}
		// Metrics first: a kill between the two leaves metrics one epoch
		// ahead of the checkpoint, which resuming drops and reruns.
		if err := r.writeMetrics(); err != nil {
			return nil, err
		}
		if err := r.save(LastFile); err != nil {
			return nil, err
		}
		ran++
		runSec += m.Seconds
		r.logf("epoch %3d/%d  lr %.2e  loss %.4f%s%s  best %.4f (epoch %d)  %.1fs  %.0f samples/s  data wait %.1f%%%s%s\n",
			m.Epoch, cfg.Epochs, m.LR, m.Values[0].Value, r.headline(m, metrics, hasTest), probeLine(probed, probeSec), r.bestVal, m.BestEpoch, m.Seconds, m.SamplesPerSec,
			100*m.DataWait, exchange, runLeft(runSec, ran, cfg.Epochs-r.epoch))
		if r.opt.OnEpoch != nil {
			r.opt.OnEpoch(m)
		}
	}
	res := r.result()
	if n := len(r.metrics); n > 0 {
		res.Last, _ = r.metrics[n-1].Get(r.best.name)
	}
	return res, nil
}

func (r *runner) result() *Result {
	return &Result{Epochs: r.metrics, Metric: r.best.name, Best: r.bestVal, BestEpoch: r.bestEpoch}
}

// headline is the epoch line's part after the training loss: the first
// metric on each split ("  train 0.9100  test 0.8800"), or the test loss
// when the task has no metric.
func (r *runner) headline(m EpochMetrics, metrics []Metric, hasTest bool) string {
	var b strings.Builder
	if len(metrics) > 0 {
		v, _ := m.Get("train_" + metrics[0].Name)
		fmt.Fprintf(&b, "  train %.4f", v)
		if hasTest {
			v, _ = m.Get("test_" + metrics[0].Name)
			fmt.Fprintf(&b, "  test %.4f", v)
		}
	} else if hasTest {
		v, _ := m.Get("test_loss")
		fmt.Fprintf(&b, "  test loss %.4f", v)
	}
	return b.String()
}

// bestChoice is the metric choosing the best epoch.
type bestChoice struct {
	name   string // a column: test_acc, train_loss...
	higher bool
}

// better says v is better than old.
func (c bestChoice) better(v, old float64) bool {
	if c.higher {
		return v > old
	}
	return v < old
}

// key is the column holding the best value: best_ and the metric's name
// without its split (best_acc for test_acc).
func (c bestChoice) key() string {
	_, m, _ := strings.Cut(c.name, "_")
	return "best_" + m
}

// columns lists the Values of task's epochs (before best_<m>) and
// resolves the metric named best ("" chooses the default, see
// Config.Best).
func columns(task Task, best string) ([]string, bestChoice, error) {
	return metricColumns(task.Metrics(), probeMetrics(task), task.Len(TestSplit) > 0, best)
}

// CheckBest reports whether best (Config.Best) can name one of a task's
// metrics, ms, on a training or a test split, so that a run configuration
// is refused before anything is written. "" (the default) always can.
func CheckBest(best string, ms []Metric) error {
	_, _, err := metricColumns(ms, nil, true, best)
	return err
}

// CheckBestProbe is CheckBest for a task that is a Prober with the probe
// metrics probe: best may also name probe_<m>.
func CheckBestProbe(best string, ms, probe []Metric) error {
	_, _, err := metricColumns(ms, probe, true, best)
	return err
}

// metricColumns lists the metric columns of a run with the given metrics
// and probe metrics, with or without a test split, and the choice of best
// they imply.
func metricColumns(ms, probe []Metric, test bool, best string) ([]string, bestChoice, error) {
	splits := []string{"train"}
	if test {
		splits = append(splits, "test")
	}
	var cols []string
	higher := map[string]bool{}
	seen := map[string]bool{"loss": true}
	for _, m := range ms {
		if m.Name == "" || seen[m.Name] || strings.ContainsAny(m.Name, ",\"\n") {
			return nil, bestChoice{}, fmt.Errorf("train: the task's metric names must be distinct, not loss, and plain (got %s)", quoteShort(m.Name))
		}
		seen[m.Name] = true
	}
	seenProbe := map[string]bool{}
	for _, m := range probe {
		if m.Name == "" || seenProbe[m.Name] || strings.ContainsAny(m.Name, ",\"\n") {
			return nil, bestChoice{}, fmt.Errorf("train: the task's probe metric names must be distinct and plain (got %s)", quoteShort(m.Name))
		}
		seenProbe[m.Name] = true
	}
	for _, sp := range splits {
		cols = append(cols, sp+"_loss")
		for _, m := range ms {
			cols = append(cols, sp+"_"+m.Name)
			higher[sp+"_"+m.Name] = m.Higher
		}
	}
	for _, m := range probe {
		cols = append(cols, ProbePrefix+m.Name)
		higher[ProbePrefix+m.Name] = m.Higher
	}
	if best == "" {
		sp := splits[len(splits)-1]
		best = sp + "_loss"
		if len(ms) > 0 {
			best = sp + "_" + ms[0].Name
		}
	}
	for _, c := range cols {
		if c == best {
			return cols, bestChoice{best, higher[best]}, nil
		}
	}
	return nil, bestChoice{}, fmt.Errorf("train: best metric %s is not one of this run's: %s", quoteShort(best), strings.Join(cols, ", "))
}

// runLeft is the epoch line's estimate of the run's time left: left more
// epochs at the mean time of the ran epochs that took sec in all ("" once
// none is left).
func runLeft(sec float64, ran, left int) string {
	if left <= 0 || ran <= 0 {
		return ""
	}
	return "  about " + Round(time.Duration(sec/float64(ran)*float64(left)*float64(time.Second))).String() + " left"
}

func clipOrInf(c float64) float64 {
	if c == 0 {
		return math.Inf(1)
	}
	return c
}

func (r *runner) nonFinite(what string, v float64, epoch, batch int) error {
	return fmt.Errorf("%w: the %s is %v at epoch %d, step %d; %s; "+
		"check the data or start a new run with a lower learning rate", ErrNonFinite, what, v, epoch+1, batch+1, r.goodCheckpoint())
}

// goodCheckpoint names the last good checkpoint, for messages.
func (r *runner) goodCheckpoint() string {
	if !r.primary() {
		return "rank 0 keeps the run's checkpoints"
	}
	if !r.hasGood {
		return "the run has no good checkpoint"
	}
	return fmt.Sprintf("the last good checkpoint is %s (%s)", r.path(LastFile), r.good.position())
}

func (r *runner) interrupted() (*Result, error) {
	if err := r.save(LastFile); errors.Is(err, ErrNonFinite) {
		return nil, fmt.Errorf("interrupted, and the state was not saved: %w", err)
	} else if err != nil {
		return nil, fmt.Errorf("interrupted, and the state could not be saved: %w", err)
	}
	return r.result(), fmt.Errorf("%w at epoch %d after %d steps; saved %s; continue with --resume", ErrInterrupted, r.epoch+1, r.batch, r.path(LastFile))
}
