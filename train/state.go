package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
)

// Metrics files in a run directory.
const (
	MetricsJSONL = "metrics.jsonl"
	MetricsCSV   = "metrics.csv"
)

// MetaState is the checkpoint metadata key holding the run's position.
const MetaState = "train_state"

// runState is where a run stands, stored in each checkpoint.
type runState struct {
	Epoch   int     `json:"epoch"` // epochs done
	Batch   int     `json:"batch"` // batches done in the current epoch
	Steps   int     `json:"steps"` // optimiser steps
	LossSum float64 `json:"loss_sum"`
	// Sum0 is the task's first metric's sum over the epoch's samples so
	// far (a count of correct predictions for classification, hence the
	// key).
	Sum0     float64 `json:"correct"`
	Seen     int     `json:"seen"`
	WaitSec  float64 `json:"wait_sec"`
	TrainSec float64 `json:"train_sec"`
	// Best is the best epoch's value of the metric choosing it (the key
	// is classification's, whose metric is the accuracy).
	Best      float64 `json:"best_acc"`
	BestEpoch int     `json:"best_epoch"`
	Config    Config  `json:"config"`
	// Sums are the other metrics' sums, after the first.
	Sums []float64 `json:"sums,omitempty"`
}

// position describes where a checkpoint stands.
func (st runState) position() string {
	if st.Batch == 0 {
		if st.Epoch == 0 {
			return "before training"
		}
		return fmt.Sprintf("after epoch %d", st.Epoch)
	}
	return fmt.Sprintf("epoch %d, after step %d", st.Epoch+1, st.Batch)
}

func (r *runner) state() runState {
	st := runState{Epoch: r.epoch, Batch: r.batch, Steps: r.adam.Steps(), LossSum: r.lossSum,
		Seen: r.seen, WaitSec: r.waitSec, TrainSec: r.trainSec, Best: r.bestVal, BestEpoch: r.bestEpoch, Config: r.cfg}
	if len(r.sums) > 0 {
		st.Sum0 = r.sums[0]
		st.Sums = append([]float64(nil), r.sums[1:]...)
	}
	return st
}

// save writes the model, the optimiser and the run's position to the run
// directory, atomically. Parameters or optimiser state holding a NaN or an
// infinity are not saved: the file is left as it was and the error wraps
// ErrNonFinite.
func (r *runner) save(name string) error {
	if !r.primary() {
		return nil
	}
	cur := r.state()
	st, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	meta := map[string]string{}
	for k, v := range r.opt.Meta {
		meta[k] = v
	}
	meta[MetaState] = string(st)
	meta["epoch"] = strconv.Itoa(r.epoch)
	r.ps.SyncHost() // parameters on a device: their values to Data
	opt := r.adam.State()
	if what, v, bad := firstNonFinite(r.ps, opt); bad {
		if !r.hasGood && cur.Epoch == 0 && cur.Batch == 0 {
			return fmt.Errorf("%w: %s is %v before training; check the pretrained weights", ErrNonFinite, what, v)
		}
		return fmt.Errorf("%w: %s is %v (%s), so %s was not written; %s", ErrNonFinite, what, v, cur.position(),
			r.path(name), r.goodCheckpoint())
	}
	if err := checkpoint.Save(r.path(name), r.ps, opt, meta); err != nil {
		return fmt.Errorf("saving %s: %w", r.path(name), err)
	}
	if name == LastFile {
		r.good, r.hasGood = cur, true
	}
	return nil
}

// firstNonFinite finds the first parameter or optimiser buffer holding a
// NaN or an infinity and returns its name and that value.
func firstNonFinite(ps nn.Params, opt map[string][]float32) (string, float32, bool) {
	for _, p := range ps {
		if i, bad := nonFiniteAt(p.Data); bad {
			return p.Name, p.Data[i], true
		}
	}
	keys := make([]string, 0, len(opt))
	for k := range opt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if i, bad := nonFiniteAt(opt[k]); bad {
			return "optimiser buffer " + k, opt[k][i], true
		}
	}
	return "", 0, false
}

// nonFiniteAt returns the index of the first NaN or infinity in v.
func nonFiniteAt(v []float32) (int, bool) {
	for i, x := range v {
		if x-x != 0 { // NaN or ±Inf
			return i, true
		}
	}
	return 0, false
}

// resume restores the run from its last checkpoint and its metrics. When
// the last checkpoint cannot be used (missing, damaged, not finite) and
// best.safetensors can, the error says so and how to go on from it.
func (r *runner) resume() error {
	path := r.path(LastFile)
	rep, opt, meta, err := checkpoint.Load(path, r.ps)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return r.lastUnusable(fmt.Errorf("%s does not exist", path))
		}
		return r.lastUnusable(err)
	}
	if len(rep.Missing) > 0 {
		return fmt.Errorf("cannot resume: %s lacks %d parameters of the model (first: %s); was it written by another model?", path, len(rep.Missing), rep.Missing[0])
	}
	if what, v, bad := firstNonFinite(r.ps, opt); bad {
		return r.lastUnusable(fmt.Errorf("%s holds non-finite values (%s is %v)", path, what, v))
	}
	var st runState
	if err := json.Unmarshal([]byte(meta[MetaState]), &st); err != nil {
		return fmt.Errorf("cannot resume: %s has no readable training state: %v", path, err)
	}
	// Workers and prefetch do not change results; everything else must match.
	saved, now := st.Config, r.cfg
	saved.Workers, saved.Prefetch, now.Workers, now.Prefetch = 0, 0, 0, 0
	// The shards may change (a run resumed on another number of ranks);
	// unless asked, the run keeps its own.
	if now.Shards == 0 || now.Shards == saved.Shards {
		r.cfg.Shards, r.keptShards = saved.Shards, true
	} else if max(now.Shards, 1) != max(saved.Shards, 1) {
		r.logf("resuming with %d shards a batch, where the run had %d: from here it computes as it would have with %d\n", max(now.Shards, 1), max(saved.Shards, 1), max(now.Shards, 1))
	}
	saved.Shards, now.Shards = 0, 0
	if saved != now {
		return fmt.Errorf("cannot resume: %s was trained with other settings (%s); resume with the run's own settings, or start a new run",
			path, configDiff(saved, now))
	}
	r.adam.Load(opt)
	r.adam.SetSteps(st.Steps)
	if len(r.sums) > 0 && len(st.Sums) != len(r.sums)-1 || len(r.sums) == 0 && (st.Sum0 != 0 || len(st.Sums) > 0) {
		return fmt.Errorf("cannot resume: %s holds the sums of %d metrics, the task has %d", path, 1+len(st.Sums), len(r.sums))
	}
	r.epoch, r.batch, r.lossSum, r.seen = st.Epoch, st.Batch, st.LossSum, st.Seen
	if len(r.sums) > 0 {
		r.sums[0] = st.Sum0
		copy(r.sums[1:], st.Sums)
	}
	r.waitSec, r.trainSec, r.bestVal, r.bestEpoch = st.WaitSec, st.TrainSec, st.Best, st.BestEpoch
	r.good, r.hasGood = st, true
	ms, err := ReadMetrics(r.path(MetricsJSONL))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(ms) < st.Epoch {
		return fmt.Errorf("cannot resume: %s has %d epochs of metrics, the checkpoint %d", r.path(MetricsJSONL), len(ms), st.Epoch)
	}
	// Epochs after the checkpoint (a run killed after writing an epoch's
	// metrics but before its checkpoint) are dropped and run again.
	r.metrics = ms[:st.Epoch]
	want := append(append([]string(nil), r.cols...), r.best.key())
	for _, m := range r.metrics {
		if got := m.Names(); !sameColumns(got, want, r.probeCols()) {
			return fmt.Errorf("cannot resume: epoch %d of %s has the metrics %s, this run %s", m.Epoch, r.path(MetricsJSONL),
				quoteShort(strings.Join(got, ",")), strings.Join(want, ","))
		}
	}
	if st.complete() {
		return fmt.Errorf("run %s is %w (%d epochs); nothing to do", r.opt.Dir, ErrComplete, st.Epoch)
	}
	r.logf("resuming %s at epoch %d, step %d\n", path, st.Epoch+1, st.Batch)
	return r.writeMetrics()
}

// configDiff lists the settings in which a and b differ, by their names
// in a configuration file: "lr 0.001, now 0.002".
func configDiff(a, b Config) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		if x != y {
			name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("yaml"), ",")
			out = append(out, fmt.Sprintf("%s %v, now %v", name, x, y))
		}
	}
	return strings.Join(out, "; ")
}

// lastUnusable is the error of a resume whose last checkpoint cannot be
// used for reason: it says whether best.safetensors can be used instead,
// and how.
func (r *runner) lastUnusable(reason error) error {
	best := r.path(BestFile)
	st, err := r.checkBest()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot resume: %w; there is no %s either: start a new run", reason, best)
	case err != nil:
		return fmt.Errorf("cannot resume: %w; %s cannot be used either (%v): start a new run", reason, best, err)
	}
	return fmt.Errorf("cannot resume: %w. %s (%s) is intact: evaluate it with pcx eval --ckpt %s, "+
		"or continue the run from it: copy it over %s and resume again (the epochs after %d run again, as they ran before)",
		reason, best, st.position(), best, r.path(LastFile), st.Epoch)
}

// checkBest checks that best.safetensors holds every parameter of the
// model, finite, and a training state, and returns that state.
func (r *runner) checkBest() (runState, error) {
	var st runState
	d, err := state.ReadSafetensors(r.path(BestFile))
	if err != nil {
		return st, err
	}
	for _, p := range r.ps {
		t, ok := d.Tensors[p.Name]
		if !ok || t.NumElements() != p.Len() {
			return st, fmt.Errorf("it does not hold this model's %s", p.Name)
		}
	}
	for _, k := range d.Keys {
		if i, bad := nonFiniteAt(d.Tensors[k].F32); bad {
			return st, fmt.Errorf("%s is %v", k, d.Tensors[k].F32[i])
		}
	}
	if err := json.Unmarshal([]byte(d.Meta[MetaState]), &st); err != nil {
		return st, fmt.Errorf("no readable training state: %v", err)
	}
	return st, nil
}

// Complete reports whether the run in dir has trained all its epochs, by
// its last checkpoint, and how many epochs it has. A missing or unreadable
// checkpoint is not complete (resuming says what is wrong with it).
func Complete(dir string) (epochs int, done bool) {
	d, err := state.ReadSafetensors(filepath.Join(dir, LastFile))
	if err != nil {
		return 0, false
	}
	var st runState
	if json.Unmarshal([]byte(d.Meta[MetaState]), &st) != nil {
		return 0, false
	}
	return st.Config.Epochs, st.complete()
}

// complete says the run stands after its last epoch.
func (st runState) complete() bool {
	return st.Batch == 0 && st.Config.Epochs > 0 && st.Epoch >= st.Config.Epochs
}

// writeMetrics rewrites metrics.jsonl and metrics.csv atomically.
func (r *runner) writeMetrics() error {
	if !r.primary() {
		return nil
	}
	err := atomicfile.Write(r.path(MetricsJSONL), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, m := range r.metrics {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return atomicfile.Write(r.path(MetricsCSV), func(w io.Writer) error {
		writeCSV(w, append(append([]string(nil), r.cols...), r.best.key()), r.metrics)
		return nil
	})
}

// ReadMetrics reads a run's metrics.jsonl.
func ReadMetrics(path string) ([]EpochMetrics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []EpochMetrics
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m EpochMetrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}
