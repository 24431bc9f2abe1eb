package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
)

// probedBlobs is blobs with a probe: the test accuracy of the model in
// evaluation mode with dropout drawn from the probe's own stream (which
// must not disturb training), and the sum of fc1's weights.
type probedBlobs struct {
	*blobs
	every int
	calls int
	// bad makes the probe misbehave: "count", "nan" or "error".
	bad string
	// during, when set, is called as the probe starts.
	during func()
}

func newProbed(every int) *probedBlobs { return &probedBlobs{blobs: newBlobs(1), every: every} }

func (p *probedBlobs) ProbeMetrics() []Metric {
	return []Metric{{Name: "acc", Higher: true}, {Name: "wsum"}}
}

func (p *probedBlobs) ProbeEvery() int { return p.every }

func (p *probedBlobs) Probe(ctx context.Context, dev nn.Device) ([]float64, error) {
	p.calls++
	if p.during != nil {
		p.during()
	}
	switch p.bad {
	case "count":
		return []float64{1}, nil
	case "nan":
		return []float64{math.NaN(), 0}, nil
	case "error":
		return nil, errors.New("no probe data")
	}
	return probeValues(p.blobs), ctx.Err()
}

// probeValues is what probedBlobs's probe measures of t's model.
func probeValues(t *blobs) []float64 {
	r := rand.New(rand.NewPCG(99, 99))
	b, _ := t.Batch(TestSplit, seq(t.Len(TestSplit)), r)
	tp := nn.NewTape(false)
	logits := t.logits(tp, b, r)
	labels := b.(*blobBatch).labels
	pred := nn.ArgmaxRows(logits.Host(), len(labels), logits.Dim(-1))
	right := 0
	for i, l := range labels {
		if pred[i] == l {
			right++
		}
	}
	sum := 0.0
	for _, v := range t.fc1.Weight.Data {
		sum += float64(v)
	}
	return []float64{float64(right) / float64(len(labels)), sum}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// withoutProbe is ms with the probe columns removed and best_<m> dropped
// (it depends on the metric choosing the best).
func withoutProbe(ms []EpochMetrics) []EpochMetrics {
	out := make([]EpochMetrics, len(ms))
	for i, m := range ms {
		m = m.WithoutTimes()
		var vs []Named
		for _, v := range m.Values {
			if !strings.HasPrefix(v.Name, ProbePrefix) && !strings.HasPrefix(v.Name, "best_") {
				vs = append(vs, v)
			}
		}
		m.Values, m.BestEpoch = vs, 0
		out[i] = m
	}
	return out
}

// TestProbeRecorded: the probe's values are recorded every epoch, measure
// the parameters the epoch ended with, can choose the best epoch, and
// change nothing else: the weights and the other metrics are those of the
// run without a probe, bit for bit.
func TestProbeRecorded(t *testing.T) {
	plainDir, dir := t.TempDir(), t.TempDir()
	plain, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: plainDir})
	if err != nil {
		t.Fatal(err)
	}
	task := newProbed(1)
	cfg := testConfig()
	cfg.Best = "probe_acc"
	var log strings.Builder
	res, err := Run(context.Background(), task, cfg, Options{Dir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if task.calls != cfg.Epochs {
		t.Errorf("%d probes in %d epochs", task.calls, cfg.Epochs)
	}
	if res.Metric != "probe_acc" {
		t.Errorf("best chosen by %s", res.Metric)
	}
	want := []string{"train_loss", "train_acc", "test_loss", "test_acc", "probe_acc", "probe_wsum", "best_acc"}
	bestVal, bestEpoch := -1.0, 0
	for _, m := range res.Epochs {
		if got := m.Names(); !reflect.DeepEqual(got, want) {
			t.Fatalf("epoch %d columns %v, want %v", m.Epoch, got, want)
		}
		if v, _ := m.Get("probe_acc"); v > bestVal {
			bestVal, bestEpoch = v, m.Epoch
		}
	}
	if res.BestEpoch != bestEpoch || res.Best != bestVal {
		t.Errorf("best epoch %d (%v), want %d (%v)", res.BestEpoch, res.Best, bestEpoch, bestVal)
	}
	if !reflect.DeepEqual(withoutProbe(res.Epochs), withoutProbe(plain.Epochs)) {
		t.Errorf("the probe changed the other metrics:\n%+v\n%+v", withoutProbe(res.Epochs), withoutProbe(plain.Epochs))
	}
	pa, pb := paramsOf(t, filepath.Join(dir, LastFile)), paramsOf(t, filepath.Join(plainDir, LastFile))
	if !reflect.DeepEqual(pa, pb) {
		t.Fatal("the probe changed the weights")
	}
	// The last epoch's values are those of the last checkpoint's weights.
	last := newBlobs(1)
	p := pa
	for _, q := range last.Params() {
		copy(q.Data, p[:q.Len()])
		p = p[q.Len():]
	}
	wantVals := probeValues(last)
	m := res.Epochs[len(res.Epochs)-1]
	for i, name := range []string{"probe_acc", "probe_wsum"} {
		if v, _ := m.Get(name); v != wantVals[i] {
			t.Errorf("last epoch's %s %v, the last checkpoint's %v", name, v, wantVals[i])
		}
	}
	if !strings.Contains(log.String(), "probe acc ") {
		t.Errorf("the epoch lines do not show the probe:\n%s", log.String())
	}
	ms, err := ReadMetrics(filepath.Join(dir, MetricsJSONL))
	if err != nil || !reflect.DeepEqual(strip(ms), strip(res.Epochs)) {
		t.Errorf("metrics.jsonl differs from the result: %v", err)
	}
	csv := string(mustRead(t, filepath.Join(dir, MetricsCSV)))
	if !strings.HasPrefix(csv, "epoch,lr,train_loss,train_acc,test_loss,test_acc,probe_acc,probe_wsum,best_acc,best_epoch,") {
		t.Errorf("metrics.csv header: %s", strings.SplitN(csv, "\n", 2)[0])
	}
}

// TestProbeEvery: probing every 4th epoch of 6 probes epochs 4 and 6; the
// others have no probe columns (empty cells in the CSV), and a run choosing
// its best by a probe metric chooses among the probed epochs. Interrupted
// and resumed, the run ends with the same metrics, and the epochs done
// before are not probed again.
func TestProbeEvery(t *testing.T) {
	cfg := testConfig()
	cfg.Best = "probe_wsum"
	ref := t.TempDir()
	task := newProbed(4)
	want, err := Run(context.Background(), task, cfg, Options{Dir: ref})
	if err != nil {
		t.Fatal(err)
	}
	if task.calls != 2 {
		t.Errorf("%d probes, want 2 (epochs 4 and 6)", task.calls)
	}
	for _, m := range want.Epochs {
		_, has := m.Get("probe_wsum")
		if has != (m.Epoch == 4 || m.Epoch == 6) {
			t.Errorf("epoch %d: probe columns %v", m.Epoch, has)
		}
		if m.Epoch < 4 && m.BestEpoch != 0 {
			t.Errorf("epoch %d: best epoch %d before any probe", m.Epoch, m.BestEpoch)
		}
	}
	if b := want.BestEpoch; b != 4 && b != 6 {
		t.Errorf("best epoch %d, not a probed one", b)
	}
	if _, err := os.Stat(filepath.Join(ref, BestFile)); err != nil {
		t.Error(err)
	}
	csv := strings.Split(string(mustRead(t, filepath.Join(ref, MetricsCSV))), "\n")
	if !strings.Contains(csv[1], ",,,") || strings.Contains(csv[4], ",,") {
		t.Errorf("metrics.csv: epoch 1 %q should have empty probe cells, epoch 4 %q none", csv[1], csv[4])
	}
	for _, stopAt := range [][2]int{{1, 3}, {4, 0}, {5, 2}} {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Run(ctx, newProbed(4), cfg, Options{Dir: dir, AfterStep: func(e, b int) {
			if e == stopAt[0] && b == stopAt[1] {
				cancel()
			}
		}})
		cancel()
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop at %v: %v", stopAt, err)
		}
		again := newProbed(4)
		got, err := Run(context.Background(), again, cfg, Options{Dir: dir, Resume: true})
		if err != nil {
			t.Fatalf("resume after %v: %v", stopAt, err)
		}
		if !reflect.DeepEqual(strip(got.Epochs), strip(want.Epochs)) {
			t.Fatalf("resume after %v:\n%+v\nwant\n%+v", stopAt, strip(got.Epochs), strip(want.Epochs))
		}
		wantCalls := 0
		for _, e := range []int{4, 6} {
			if e > stopAt[0] {
				wantCalls++
			}
		}
		if again.calls != wantCalls {
			t.Errorf("resume after %v: %d probes, want %d", stopAt, again.calls, wantCalls)
		}
	}
}

func TestProbeErrors(t *testing.T) {
	for bad, want := range map[string]string{
		"count": "returned 1 values for its 2 metrics",
		"nan":   "returned NaN for acc",
		"error": "no probe data",
	} {
		task := newProbed(1)
		task.bad = bad
		_, err := Run(context.Background(), task, testConfig(), Options{Dir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "epoch 1") {
			t.Errorf("%s: %v, want an error of epoch 1 saying %q", bad, err, want)
		}
	}
	cfg := testConfig()
	cfg.Best = "probe_loss"
	if _, err := Run(context.Background(), newProbed(1), cfg, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "probe_acc, probe_wsum") {
		t.Errorf("best probe_loss: %v", err)
	}
	if err := CheckBestProbe("probe_wsum", nil, []Metric{{Name: "wsum"}}); err != nil {
		t.Error(err)
	}
	if err := CheckBest("probe_wsum", nil); err == nil {
		t.Error("CheckBest accepted a probe metric of a task without a probe")
	}
	if err := CheckBestProbe("", nil, []Metric{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Error("CheckBestProbe accepted two probe metrics of one name")
	}
	// A cancelled probe is an interruption, with the state saved.
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	task := newProbed(1)
	task.during = cancel
	_, err := Run(ctx, task, testConfig(), Options{Dir: dir})
	cancel()
	if !errors.Is(err, ErrInterrupted) {
		t.Errorf("cancelled during the probe: %v", err)
	}
	if _, err := Run(context.Background(), newProbed(1), testConfig(), Options{Dir: dir, Resume: true}); err != nil {
		t.Errorf("resuming a run cancelled during its first probe: %v", err)
	}
}
