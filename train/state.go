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
	"strconv"

	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/nn/checkpoint"
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
	Epoch     int     `json:"epoch"` // epochs done
	Batch     int     `json:"batch"` // batches done in the current epoch
	Steps     int     `json:"steps"` // optimiser steps
	LossSum   float64 `json:"loss_sum"`
	Correct   int     `json:"correct"`
	Seen      int     `json:"seen"`
	WaitSec   float64 `json:"wait_sec"`
	TrainSec  float64 `json:"train_sec"`
	BestAcc   float64 `json:"best_acc"`
	BestEpoch int     `json:"best_epoch"`
	Config    Config  `json:"config"`
}

func (r *runner) state() runState {
	return runState{Epoch: r.epoch, Batch: r.batch, Steps: r.adam.Steps(), LossSum: r.lossSum, Correct: r.correct,
		Seen: r.seen, WaitSec: r.waitSec, TrainSec: r.trainSec, BestAcc: r.bestAcc, BestEpoch: r.bestEpoch, Config: r.cfg}
}

// save writes the model, the optimiser and the run's position to the run
// directory, atomically.
func (r *runner) save(name string) error {
	st, err := json.Marshal(r.state())
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
	if err := checkpoint.Save(r.path(name), r.ps, r.adam.State(), meta); err != nil {
		return fmt.Errorf("saving %s: %w", r.path(name), err)
	}
	return nil
}

// resume restores the run from its last checkpoint and its metrics.
func (r *runner) resume() error {
	path := r.path(LastFile)
	rep, opt, meta, err := checkpoint.Load(path, r.ps)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot resume: %s does not exist", path)
		}
		return fmt.Errorf("cannot resume: %w", err)
	}
	if len(rep.Missing) > 0 {
		return fmt.Errorf("cannot resume: %s lacks %d parameters of the model (first: %s); was it written by another model?", path, len(rep.Missing), rep.Missing[0])
	}
	var st runState
	if err := json.Unmarshal([]byte(meta[MetaState]), &st); err != nil {
		return fmt.Errorf("cannot resume: %s has no readable training state: %v", path, err)
	}
	// Workers and prefetch do not change results; everything else must match.
	saved, now := st.Config, r.cfg
	saved.Workers, saved.Prefetch, now.Workers, now.Prefetch = 0, 0, 0, 0
	if saved != now {
		return fmt.Errorf("cannot resume: %s was trained with other settings (%+v, now %+v)", path, st.Config, r.cfg)
	}
	r.adam.Load(opt)
	r.adam.SetSteps(st.Steps)
	r.epoch, r.batch, r.lossSum, r.correct, r.seen = st.Epoch, st.Batch, st.LossSum, st.Correct, st.Seen
	r.waitSec, r.trainSec, r.bestAcc, r.bestEpoch = st.WaitSec, st.TrainSec, st.BestAcc, st.BestEpoch
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
	r.logf("resuming %s at epoch %d, step %d\n", path, st.Epoch+1, st.Batch)
	return r.writeMetrics()
}

// writeMetrics rewrites metrics.jsonl and metrics.csv atomically.
func (r *runner) writeMetrics() error {
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
		fmt.Fprintln(w, "epoch,lr,train_loss,train_acc,test_loss,test_acc,best_acc,best_epoch,seconds,train_seconds,samples_per_sec,data_wait,peak_mb")
		for _, m := range r.metrics {
			fmt.Fprintf(w, "%d,%g,%g,%g,%g,%g,%g,%d,%g,%g,%g,%g,%d\n", m.Epoch, m.LR, m.TrainLoss, m.TrainAcc, m.TestLoss,
				m.TestAcc, m.BestAcc, m.BestEpoch, m.Seconds, m.TrainSeconds, m.SamplesPerSec, m.DataWait, m.PeakMB)
		}
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
