// Package train is pcx's training core. It runs epochs over a parallel data
// loader, steps AdamW with Point-MAE's cosine warm-up schedule and gradient
// clipping, evaluates on the test split every epoch, and keeps a run
// directory: the resolved configuration, metrics as JSON lines and CSV, and
// the checkpoints last.safetensors and best.safetensors, written atomically.
//
// The core knows nothing about what it trains. A Task supplies the
// parameters, builds batches (in the loader's goroutines) and runs the model;
// point-cloud classification and, later, images plug in the same way.
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
	"strings"
	"time"

	"github.com/pcx-dev/pcx/nn"
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

// Batch is what a Task builds for one step; the core only reads its labels.
type Batch interface {
	Labels() []int
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
	// Logits runs the model; tp.Train selects training behaviour and r
	// drives dropout and drop-path.
	Logits(tp *nn.Tape, b Batch, r *rand.Rand) *nn.Tensor
	// Loss is the training objective of the logits of b (a scalar).
	Loss(tp *nn.Tape, logits *nn.Tensor, b Batch) *nn.Tensor
}

// Config holds the optimisation settings. Zero values mean Point-MAE's.
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
}

// PointMAE returns Point-MAE's fine-tuning settings: 300 epochs of batch 32
// (evaluation 64), AdamW lr 5e-4 and weight decay 0.05, 10 warm-up epochs
// from 1e-6, cosine to 1e-6, gradient norm clipped at 10.
func PointMAE() Config {
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

// Schedule is the learning-rate schedule: timm's CosineLRScheduler stepped
// once per epoch after it ends, as Point-MAE's runner does, so epoch e ≥ 1
// trains with the scheduler's value at e−1 and epoch 0 with its value at 0.
func (c Config) Schedule(epoch int) float64 {
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
	// by the operations that take them, loss and logits come back.
	Device nn.Device
}

// EpochMetrics is one line of metrics.jsonl.
type EpochMetrics struct {
	Epoch     int     `json:"epoch"` // 1-based
	LR        float64 `json:"lr"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
	BestAcc   float64 `json:"best_acc"`
	BestEpoch int     `json:"best_epoch"`
	// Seconds is the epoch's wall time (training and evaluation; for an
	// epoch resumed part-way, only the part run after resuming).
	Seconds float64 `json:"seconds"`
	// TrainSeconds is the training part of Seconds.
	TrainSeconds float64 `json:"train_seconds"`
	// SamplesPerSec is the training throughput.
	SamplesPerSec float64 `json:"samples_per_sec"`
	// DataWait is the fraction of training time the model waited for the
	// loader.
	DataWait float64 `json:"data_wait"`
	// PeakMB is the process's peak resident memory so far.
	PeakMB int `json:"peak_mb"`
}

// WithoutTimes returns m with its timing and memory fields zeroed: what is
// left repeats exactly between runs of the same seed.
func (m EpochMetrics) WithoutTimes() EpochMetrics {
	m.Seconds, m.TrainSeconds, m.SamplesPerSec, m.DataWait, m.PeakMB = 0, 0, 0, 0, 0
	return m
}

// Result summarises a run.
type Result struct {
	Epochs    []EpochMetrics
	BestAcc   float64
	BestEpoch int
	LastAcc   float64
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
	if task.Len(TestSplit) == 0 {
		return nil, fmt.Errorf("train: the test split is empty")
	}
	// The run owns its directory until it returns.
	lk, owned, err := claim(opt.Dir)
	if err != nil {
		return nil, err
	}
	defer lk.release(owned)
	r := &runner{ctx: ctx, task: task, cfg: cfg, opt: opt, ps: task.Params()}
	r.adam = optim.NewAdamW(r.ps, cfg.WeightDecay)
	if len(r.adam.Params) == 0 {
		return nil, fmt.Errorf("train: the model has no trainable parameters")
	}
	if n := len(lk.Removed); n > 0 {
		r.logf("removed %d temporary file(s) of interrupted writes from %s: %s\n", n, opt.Dir, strings.Join(lk.Removed[:min(n, 4)], ", "))
		lk.Removed = nil
	}
	if opt.Resume {
		if err := r.resume(); err != nil {
			return nil, err
		}
	} else {
		if err := StartFresh(opt.Dir, opt.Overwrite); err != nil {
			return nil, err
		}
		// A usable checkpoint exists from the start, so that a run that
		// fails in its first epoch still leaves one.
		if err := r.save(LastFile); err != nil {
			return nil, err
		}
		if err := r.writeMetrics(); err != nil {
			return nil, err
		}
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

	epoch, batch      int // position: epochs done, batches done in the current epoch
	lossSum           float64
	correct, seen     int
	waitSec, trainSec float64
	bestAcc           float64
	bestEpoch         int
	metrics           []EpochMetrics

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
	for r.epoch < cfg.Epochs {
		e := r.epoch
		lr := cfg.Schedule(e)
		start := time.Now()
		order := Permutation(cfg.Seed, e, nTrain)
		var idx [][]int
		for b := 0; b < perEpoch; b++ {
			idx = append(idx, order[b*cfg.BatchSize:(b+1)*cfg.BatchSize])
		}
		desc := fmt.Sprintf("epoch %d/%d", e+1, cfg.Epochs)
		bar := NewProgress(r.opt.Progress, perEpoch*cfg.BatchSize, desc)
		bar.Set(r.batch * cfg.BatchSize)
		ld := startLoader(r.ctx, r.task, TrainSplit, idx, r.batch, cfg.Workers, cfg.Prefetch, func(b int) *rand.Rand {
			return Stream(cfg.Seed, StreamData, e, b)
		})
		for b := r.batch; b < perEpoch; b++ {
			t0 := time.Now()
			lb, err := ld.next()
			wait := time.Since(t0).Seconds()
			if err != nil {
				ld.stop()
				if errors.Is(err, context.Canceled) || r.ctx.Err() != nil {
					return r.interrupted()
				}
				return nil, fmt.Errorf("%w; %s", err, r.goodCheckpoint())
			}
			if err := r.step(lb, lr, e, b); err != nil {
				ld.stop()
				return nil, err
			}
			r.waitSec += wait
			r.trainSec += time.Since(t0).Seconds()
			r.batch = b + 1
			bar.Add(cfg.BatchSize)
			if r.opt.AfterStep != nil {
				r.opt.AfterStep(e, b)
			}
			if r.ctx.Err() != nil {
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
		evBar := NewProgress(r.opt.Progress, r.task.Len(TestSplit), desc+" test")
		ev, err := EvaluateShowing(r.ctx, r.task, TestSplit, cfg.EvalBatch, cfg.Workers, cfg.Seed, r.pool, evBar)
		evBar.Finish()
		if err != nil {
			if r.ctx.Err() != nil {
				return r.interrupted()
			}
			return nil, fmt.Errorf("epoch %d: %w; %s", e+1, err, r.goodCheckpoint())
		}
		m := EpochMetrics{Epoch: e + 1, LR: lr, TrainLoss: r.lossSum / float64(max(perEpoch, 1)),
			TrainAcc: float64(r.correct) / float64(max(r.seen, 1)), TestLoss: ev.Loss, TestAcc: ev.Acc(),
			Seconds: time.Since(start).Seconds(), TrainSeconds: r.trainSec,
			SamplesPerSec: float64(r.seen) / math.Max(r.trainSec, 1e-9), DataWait: r.waitSec / math.Max(r.trainSec, 1e-9),
			PeakMB: PeakRSSMB()}
		improved := m.TestAcc > r.bestAcc || r.bestEpoch == 0
		if improved {
			r.bestAcc, r.bestEpoch = m.TestAcc, m.Epoch
		}
		m.BestAcc, m.BestEpoch = r.bestAcc, r.bestEpoch
		r.metrics = append(r.metrics, m)
		r.epoch, r.batch = e+1, 0
		r.lossSum, r.correct, r.seen, r.waitSec, r.trainSec = 0, 0, 0, 0, 0
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
		r.logf("epoch %3d/%d  lr %.2e  loss %.4f  train %.4f  test %.4f  best %.4f (epoch %d)  %.1fs  %.0f samples/s  data wait %.1f%%%s\n",
			m.Epoch, cfg.Epochs, m.LR, m.TrainLoss, m.TrainAcc, m.TestAcc, m.BestAcc, m.BestEpoch, m.Seconds, m.SamplesPerSec, 100*m.DataWait,
			runLeft(runSec, ran, cfg.Epochs-r.epoch))
		if r.opt.OnEpoch != nil {
			r.opt.OnEpoch(m)
		}
	}
	res := &Result{Epochs: r.metrics, BestAcc: r.bestAcc, BestEpoch: r.bestEpoch}
	if n := len(r.metrics); n > 0 {
		res.LastAcc = r.metrics[n-1].TestAcc
	}
	return res, nil
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

// step runs one optimiser step on a loaded batch.
func (r *runner) step(b Batch, lr float64, epoch, batch int) error {
	r.ps.ZeroGrad()
	tp := nn.NewTapePool(true, r.pool)
	logits := r.task.Logits(tp, b, Stream(r.cfg.Seed, StreamModel, epoch, batch))
	loss := r.task.Loss(tp, logits, b)
	l := float64(loss.Host()[0])
	if math.IsNaN(l) || math.IsInf(l, 0) {
		tp.Release()
		return r.nonFinite("loss", l, epoch, batch)
	}
	tp.Backward(loss)
	labels := b.Labels()
	r.correct += countCorrect(logits, labels)
	r.seen += len(labels)
	tp.Release()
	norm := optim.ClipGradNorm(r.adam.Params, clipOrInf(r.cfg.ClipGrad))
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return r.nonFinite("gradient norm", norm, epoch, batch)
	}
	r.adam.Step(lr)
	r.lossSum += l
	return nil
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
	return &Result{Epochs: r.metrics, BestAcc: r.bestAcc, BestEpoch: r.bestEpoch},
		fmt.Errorf("%w at epoch %d after %d steps; saved %s; continue with --resume", ErrInterrupted, r.epoch+1, r.batch, r.path(LastFile))
}

// countCorrect counts rows of logits whose argmax is the label.
func countCorrect(logits *nn.Tensor, labels []int) int {
	pred := nn.ArgmaxRows(logits.Host(), len(labels), logits.Dim(-1))
	n := 0
	for i, l := range labels {
		if pred[i] == l {
			n++
		}
	}
	return n
}
