package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
)

// regression is a task with nothing of classification: a linear model
// fitted to noisy targets, the mean absolute error as its metric (smaller
// is better), an L2 penalty on the weights as an extra loss, and no test
// split.
type regression struct {
	x, y []float32 // n samples of d inputs, one target each
	d    int
	fc   *layers.Linear
	l2   float32
}

type regBatch struct{ x, y []float32 }

func (b *regBatch) Len() int { return len(b.y) }

func newRegression() *regression {
	const n, d = 64, 4
	r := rand.New(rand.NewPCG(5, 6))
	t := &regression{d: d, l2: 0.01}
	w := []float32{1.5, -2, 0.5, 3}
	for i := 0; i < n; i++ {
		y := float32(0.2)
		for j := 0; j < d; j++ {
			v := float32(r.NormFloat64())
			t.x = append(t.x, v)
			y += w[j] * v
		}
		t.y = append(t.y, y+float32(0.05*r.NormFloat64()))
	}
	t.fc = layers.NewLinear("fc", d, 1, true, r)
	return t
}

func (t *regression) Params() nn.Params { return t.fc.Params() }
func (t *regression) Metrics() []Metric { return []Metric{{Name: "mae"}} }
func (t *regression) Len(s Split) int {
	if s == TestSplit {
		return 0
	}
	return len(t.y)
}

func (t *regression) Batch(s Split, idx []int, r *rand.Rand) (Batch, error) {
	b := &regBatch{}
	for _, i := range idx {
		b.x = append(b.x, t.x[i*t.d:(i+1)*t.d]...)
		b.y = append(b.y, t.y[i])
	}
	return b, nil
}

func (t *regression) Step(tp *nn.Tape, b Batch, r *rand.Rand) Output {
	rb := b.(*regBatch)
	n := len(rb.y)
	pred := t.fc.Forward(tp, nn.FromData(rb.x, n, t.d))
	diff := nn.Add(tp, pred, nn.Scale(tp, nn.FromData(rb.y, n, 1), -1))
	mean := make([]float32, n)
	for i := range mean {
		mean[i] = 1 / float32(n)
	}
	mse := nn.DotConst(tp, nn.RowScale(tp, diff, diff), mean)
	// The penalty's value is the squared norm of the weights; its gradient
	// (the weights held constant on one side) is half the squared norm's.
	w := t.fc.Weight.T()
	pen := nn.DotConst(tp, w, append([]float32(nil), t.fc.Weight.Data...))
	abs := 0.0
	for _, v := range diff.Host() {
		abs += math.Abs(float64(v))
	}
	return Output{Loss: mse, Aux: []Aux{{Name: "l2", Value: pen, Weight: t.l2}}, Sums: []float64{abs}, Out: pred}
}

func regConfig() Config {
	return Config{Epochs: 8, BatchSize: 16, LR: 0.3, MinLR: 0.01, WarmupLR: 1e-3, WarmupEpochs: 1, Seed: 3,
		Best: "train_loss", ScheduleUnit: "step", Workers: 1}
}

// TestGeneralTask: the core trains a task without labels, accuracy or a
// test split; best.safetensors follows the training loss (smaller is
// better), the learning rate moves every step, the metrics files name
// the task's own metric, and an interrupted run resumes exactly.
func TestGeneralTask(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), newRegression(), regConfig(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Metric != "train_loss" || len(res.Epochs) != 8 {
		t.Fatalf("result %+v", res)
	}
	best, bestEpoch := math.Inf(1), 0
	for _, m := range res.Epochs {
		if got := m.Names(); !reflect.DeepEqual(got, []string{"train_loss", "train_mae", "best_loss"}) {
			t.Fatalf("epoch %d values %v", m.Epoch, got)
		}
		v, _ := m.Get("train_loss")
		if v < best {
			best, bestEpoch = v, m.Epoch
		}
		if b, _ := m.Get("best_loss"); b != best || m.BestEpoch != bestEpoch {
			t.Errorf("epoch %d: best %v (epoch %d), want %v (epoch %d)", m.Epoch, b, m.BestEpoch, best, bestEpoch)
		}
	}
	if res.Best != best || res.BestEpoch != bestEpoch {
		t.Errorf("result best %v (epoch %d), want %v (epoch %d)", res.Best, res.BestEpoch, best, bestEpoch)
	}
	first, _ := res.Epochs[0].Get("train_mae")
	last, _ := res.Epochs[7].Get("train_mae")
	if !(last < first/4) {
		t.Errorf("mean absolute error %.4f → %.4f, want it to fall", first, last)
	}
	// Per step: epoch 2 starts past the warm-up (one epoch of 4 steps)
	// near the base rate, where per epoch it would still train at the
	// warm-up start.
	if lr := res.Epochs[1].LR; math.Abs(lr-0.3) > 0.02 {
		t.Errorf("epoch 2 lr %g, want about 0.3", lr)
	}
	csv, err := os.ReadFile(filepath.Join(dir, MetricsCSV))
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := strings.Cut(string(csv), "\n"); h != "epoch,lr,train_loss,train_mae,best_loss,best_epoch,seconds,train_seconds,samples_per_sec,data_wait,peak_mb" {
		t.Errorf("csv header %q", h)
	}
	line, _, _ := bytes.Cut(mustRead(t, filepath.Join(dir, MetricsJSONL)), []byte("\n"))
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(line))
	for tok, err := dec.Token(); err == nil; tok, err = dec.Token() {
		if k, ok := tok.(string); ok && dec.More() {
			keys = append(keys, k)
			var skip any
			dec.Decode(&skip)
		}
	}
	if want := "epoch lr train_loss train_mae best_loss best_epoch seconds train_seconds samples_per_sec data_wait peak_mb"; strings.Join(keys, " ") != want {
		t.Errorf("metrics.jsonl keys %v, want %s", keys, want)
	}

	// Interrupted in epoch 5 and resumed: the same epochs.
	dir2 := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = Run(ctx, newRegression(), regConfig(), Options{Dir: dir2, AfterStep: func(e, b int) {
		if e == 4 && b == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	got, err := Run(context.Background(), newRegression(), regConfig(), Options{Dir: dir2, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := strip(res.Epochs), strip(got.Epochs); !reflect.DeepEqual(a, b) {
		t.Errorf("resumed run:\n%+v\nwant\n%+v", b, a)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(dir, BestFile)), mustRead(t, filepath.Join(dir2, BestFile))) {
		t.Errorf("best.safetensors differs after resuming")
	}

	// The extra loss is part of the objective: without it the run differs.
	noL2 := newRegression()
	noL2.l2 = 0
	other, err := Run(context.Background(), noL2, regConfig(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := other.Epochs[0].Get("train_loss"); a == res.Epochs[0].Values[0].Value {
		t.Errorf("the weighted L2 loss did not change the training loss (%v)", a)
	}
}

// TestBestMetricChecked: a best metric the run does not have is refused
// before anything is written, naming the run's metrics.
func TestBestMetricChecked(t *testing.T) {
	c := regConfig()
	c.Best = "test_mae" // no test split
	dir := filepath.Join(t.TempDir(), "run")
	_, err := Run(context.Background(), newRegression(), c, Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), `"test_mae" is not one of this run's: train_loss, train_mae`) {
		t.Errorf("best test_mae without a test split: %v", err)
	}
	if _, serr := os.Stat(dir); serr == nil {
		t.Errorf("%s was made", dir)
	}
}

// TestMetricsJSONText: metrics.jsonl lines of classification runs keep
// the text the fixed fields wrote (keys, order, number format), and read
// back to the same values.
func TestMetricsJSONText(t *testing.T) {
	type old struct {
		Epoch         int     `json:"epoch"`
		LR            float64 `json:"lr"`
		TrainLoss     float64 `json:"train_loss"`
		TrainAcc      float64 `json:"train_acc"`
		TestLoss      float64 `json:"test_loss"`
		TestAcc       float64 `json:"test_acc"`
		BestAcc       float64 `json:"best_acc"`
		BestEpoch     int     `json:"best_epoch"`
		Seconds       float64 `json:"seconds"`
		TrainSeconds  float64 `json:"train_seconds"`
		SamplesPerSec float64 `json:"samples_per_sec"`
		DataWait      float64 `json:"data_wait"`
		PeakMB        int     `json:"peak_mb"`
	}
	o := old{12, 4.99e-4, 1.2345678901234567, 0.1, 2.5e-7, 1e21, 0.3333333333333333, 7, 123.456, 1e-9, 3, 0, 1024}
	m := EpochMetrics{Epoch: o.Epoch, LR: o.LR, Values: []Named{{"train_loss", o.TrainLoss}, {"train_acc", o.TrainAcc},
		{"test_loss", o.TestLoss}, {"test_acc", o.TestAcc}, {"best_acc", o.BestAcc}}, BestEpoch: o.BestEpoch,
		Seconds: o.Seconds, TrainSeconds: o.TrainSeconds, SamplesPerSec: o.SamplesPerSec, DataWait: o.DataWait, PeakMB: o.PeakMB}
	var want, got bytes.Buffer
	if err := json.NewEncoder(&want).Encode(o); err != nil {
		t.Fatal(err)
	}
	if err := json.NewEncoder(&got).Encode(m); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("line\n%s want\n%s", got.String(), want.String())
	}
	var back EpochMetrics
	if err := json.Unmarshal(want.Bytes(), &back); err != nil || !reflect.DeepEqual(back, m) {
		t.Errorf("read back %+v, %v", back, err)
	}
	for _, bad := range []string{`{"epoch":1,"test_acc":"high"}`, `{"epoch":1.5}`, `[1]`, `{"epoch":1,"lr":`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
