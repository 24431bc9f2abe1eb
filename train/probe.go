package train

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pcx-dev/pcx/nn"
)

// ProbePrefix begins the names of a Prober's columns: a probe metric m is
// recorded as probe_<m> (probe_svm_acc), and Config.Best may name it.
const ProbePrefix = "probe_"

// Prober is an optional interface of a Task: a measure of the model as a
// whole, taken after an epoch's training and evaluation with the
// parameters as they stand then, such as the accuracy of a linear
// classifier fitted on frozen features (a pretraining run's feature
// quality). The core records its values in the epoch's metrics after the
// test split's, as probe_<name>; they can choose best.safetensors.
//
// A probe must leave the parameters as they are and draw no randomness
// from the run's streams (its own, if it needs any, seeded apart), so that
// a run's weights are the same with and without it. Resuming a run does not
// probe the epochs it had finished again.
type Prober interface {
	// ProbeMetrics names the values Probe returns, in order.
	ProbeMetrics() []Metric
	// ProbeEvery is n to probe after every n-th epoch and after the last
	// (n ≤ 1: after every epoch). The epochs in between have no probe
	// columns in metrics.jsonl and empty ones in metrics.csv.
	ProbeEvery() int
	// Probe measures the model. dev is the run's device (nil: the host);
	// the parameters are there while the run lasts. Cancelling ctx should
	// stop it with ctx's error.
	Probe(ctx context.Context, dev nn.Device) ([]float64, error)
}

// ShowingProber is an optional interface of a Prober whose probe says how
// far it has come: the core shows it on Options.Progress (a bar on a
// terminal, a line each tenth past PlainEvery elsewhere) as the epoch's
// "probe", so that a probe of many seconds is not silent.
type ShowingProber interface {
	Prober
	// ProbeWork is the units (samples) one probe goes through.
	ProbeWork() int
	// ProbeShowing is Probe, calling done(n) as each n more units are
	// done (done is never nil).
	ProbeShowing(ctx context.Context, dev nn.Device, done func(n int)) ([]float64, error)
}

// probeMetrics is a task's probe metrics (none unless it is a Prober).
func probeMetrics(task Task) []Metric {
	if p, ok := task.(Prober); ok {
		return p.ProbeMetrics()
	}
	return nil
}

// probeDue says whether epoch (1-based) of a run of epochs is probed.
func probeDue(p Prober, epoch, epochs int) bool {
	n := p.ProbeEvery()
	return n <= 1 || epoch%n == 0 || epoch == epochs
}

// probe runs the task's probe after epoch (1-based) if it is due and
// returns its named values (none when not due) and the time it took.
func (r *runner) probe(epoch int) ([]Named, float64, error) {
	p, ok := r.task.(Prober)
	if !ok || !probeDue(p, epoch, r.cfg.Epochs) || !r.primary() { // rank 0 probes for the run
		return nil, 0, nil
	}
	ms := p.ProbeMetrics()
	if len(ms) == 0 { // a task whose probe is off
		return nil, 0, nil
	}
	start := time.Now()
	var vals []float64
	var err error
	if sp, ok := p.(ShowingProber); ok && r.opt.Progress != nil {
		bar := NewProgress(r.opt.Progress, sp.ProbeWork(), fmt.Sprintf("epoch %d/%d probe", epoch, r.cfg.Epochs))
		vals, err = sp.ProbeShowing(r.ctx, r.opt.Device, bar.Add)
		bar.Finish()
	} else {
		vals, err = p.Probe(r.ctx, r.opt.Device)
	}
	if err != nil {
		return nil, 0, err
	}
	if len(vals) != len(ms) {
		return nil, 0, fmt.Errorf("the task's probe returned %d values for its %d metrics", len(vals), len(ms))
	}
	out := make([]Named, len(ms))
	for i, m := range ms {
		if math.IsNaN(vals[i]) || math.IsInf(vals[i], 0) {
			return nil, 0, fmt.Errorf("the task's probe returned %v for %s", vals[i], m.Name)
		}
		out[i] = Named{ProbePrefix + m.Name, vals[i]}
	}
	return out, time.Since(start).Seconds(), nil
}

// probeLine is the epoch line's part for the probe values in vals
// ("  probe svm_acc 0.8125 (3.1s)"), or "".
func probeLine(vals []Named, sec float64) string {
	if len(vals) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("  probe")
	for _, v := range vals {
		fmt.Fprintf(&b, " %s %.4f", strings.TrimPrefix(v.Name, ProbePrefix), v.Value)
	}
	fmt.Fprintf(&b, " (%.1fs)", sec)
	return b.String()
}

// sameColumns says whether an epoch's value names got are want's, in
// order, where those in optional (probe columns of an epoch not probed)
// may be missing.
func sameColumns(got, want []string, optional map[string]bool) bool {
	i := 0
	for _, w := range want {
		if i < len(got) && got[i] == w {
			i++
			continue
		}
		if !optional[w] {
			return false
		}
	}
	return i == len(got)
}

// probeCols is the set of the run's probe columns.
func (r *runner) probeCols() map[string]bool {
	out := map[string]bool{}
	for _, m := range probeMetrics(r.task) {
		out[ProbePrefix+m.Name] = true
	}
	return out
}
