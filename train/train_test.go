package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/layers"
	"github.com/pcx-dev/pcx/nn/state"
)

// blobs is a toy task: Gaussian clusters in d dimensions classified by a
// two-layer MLP with dropout; batches add noise (augmentation).
type blobs struct {
	x     [2][][]float32
	y     [2][]int
	fc1   *layers.Linear
	fc2   *layers.Linear
	nanAt int // the training Step call at which the output turns NaN (0: never)
	// poisonAt is the training Step call after which a weight turns NaN, as an
	// overflowing update would make it, with that step's loss finite.
	poisonAt int
	// panicAt is a training sample whose batch panics while it is built
	// (-1: none).
	panicAt int
	calls   int
	classes int
}

type blobBatch struct {
	x      []float32
	labels []int
}

func (b *blobBatch) Len() int { return len(b.labels) }

func newBlobs(seed uint64) *blobs {
	const d, classes = 6, 3
	r := rand.New(rand.NewPCG(seed, 1))
	t := &blobs{classes: classes, panicAt: -1}
	centres := make([][]float32, classes)
	for c := range centres {
		for j := 0; j < d; j++ {
			centres[c] = append(centres[c], float32(2*r.NormFloat64()))
		}
	}
	for s, n := range []int{96, 48} {
		for i := 0; i < n; i++ {
			c := i % classes
			var v []float32
			for j := 0; j < d; j++ {
				v = append(v, centres[c][j]+float32(r.NormFloat64()))
			}
			t.x[s] = append(t.x[s], v)
			t.y[s] = append(t.y[s], c)
		}
	}
	t.fc1 = layers.NewLinear("fc1", d, 16, true, r)
	t.fc2 = layers.NewLinear("fc2", 16, classes, true, r)
	return t
}

func (t *blobs) Params() nn.Params { return append(t.fc1.Params(), t.fc2.Params()...) }
func (t *blobs) Len(s Split) int   { return len(t.y[s]) }

func (t *blobs) Batch(s Split, idx []int, r *rand.Rand) (Batch, error) {
	b := &blobBatch{}
	for _, i := range idx {
		if s == TrainSplit && i == t.panicAt {
			var m map[string]int
			m["boom"]++ // a bug in a task: assignment to a nil map
		}
		for _, v := range t.x[s][i] {
			b.x = append(b.x, v+float32(0.1*r.NormFloat64()))
		}
		b.labels = append(b.labels, t.y[s][i])
	}
	return b, nil
}

func (t *blobs) Metrics() []Metric { return []Metric{{Name: "acc", Higher: true}} }

// Step is cross-entropy, with the count of correct predictions as the
// acc metric's sum.
func (t *blobs) Step(tp *nn.Tape, b Batch, r *rand.Rand) Output {
	logits := t.logits(tp, b, r)
	labels := b.(*blobBatch).labels
	pred := nn.ArgmaxRows(logits.Host(), len(labels), logits.Dim(-1))
	correct := 0
	for i, l := range labels {
		if pred[i] == l {
			correct++
		}
	}
	return Output{Loss: nn.CrossEntropy(tp, logits, labels, 0), Sums: []float64{float64(correct)}, Out: logits}
}

func (t *blobs) logits(tp *nn.Tape, b Batch, r *rand.Rand) *nn.Tensor {
	bb := b.(*blobBatch)
	x := nn.FromData(bb.x, len(bb.labels), len(bb.x)/len(bb.labels))
	h := nn.Dropout(tp, nn.GELU(tp, t.fc1.Forward(tp, x), false), 0.1, r)
	out := t.fc2.Forward(tp, h)
	if tp.Train {
		t.calls++
		if t.nanAt > 0 && t.calls >= t.nanAt {
			out.Data[0] = float32(math.NaN())
		}
		if t.poisonAt > 0 && t.calls == t.poisonAt {
			t.fc1.Weight.Data[0] = float32(math.Inf(1))
		}
	}
	return out
}

func testConfig() Config {
	c := PointMAEFineTune()
	c.Epochs, c.BatchSize, c.LR, c.WarmupEpochs, c.Seed = 6, 16, 1e-2, 1, 7
	return c
}

// strip zeroes the timing fields, which differ between runs.
func strip(ms []EpochMetrics) []EpochMetrics {
	out := make([]EpochMetrics, len(ms))
	for i, m := range ms {
		out[i] = m.WithoutTimes()
	}
	return out
}

func paramsOf(t *testing.T, path string) []float32 {
	t.Helper()
	return valuesIn(t, path, newBlobs(1).Params())
}

// valuesIn loads the checkpoint at path into ps and returns all their
// values in order.
func valuesIn(t *testing.T, path string, ps nn.Params) []float32 {
	t.Helper()
	if _, _, _, err := checkpoint.Load(path, ps); err != nil {
		t.Fatal(err)
	}
	var out []float32
	for _, p := range ps {
		out = append(out, p.Data...)
	}
	return out
}

func TestRunLearnsAndRepeats(t *testing.T) {
	var runs [2]*Result
	var dirs [2]string
	for i := range runs {
		dirs[i] = t.TempDir()
		res, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dirs[i]})
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = res
	}
	if runs[0].Best < 0.9 || runs[0].Metric != "test_acc" {
		t.Errorf("best %s %.3f on separable blobs, want test_acc ≥ 0.9", runs[0].Metric, runs[0].Best)
	}
	if len(runs[0].Epochs) != 6 || runs[0].Epochs[5].Epoch != 6 {
		t.Fatalf("epochs %+v", runs[0].Epochs)
	}
	if first, last := runs[0].Epochs[0].Values[0].Value, runs[0].Epochs[5].Values[0].Value; !(last < first) {
		t.Errorf("training loss did not fall: %.4f → %.4f", first, last)
	}
	a, b := strip(runs[0].Epochs), strip(runs[1].Epochs)
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("same seed, epoch %d differs:\n%+v\n%+v", i+1, a[i], b[i])
		}
	}
	pa, pb := paramsOf(t, filepath.Join(dirs[0], LastFile)), paramsOf(t, filepath.Join(dirs[1], LastFile))
	for i := range pa {
		if pa[i] != pb[i] {
			t.Fatalf("same seed, parameter %d differs: %v vs %v", i, pa[i], pb[i])
		}
	}
	ms, err := ReadMetrics(filepath.Join(dirs[0], MetricsJSONL))
	if err != nil || len(ms) != 6 {
		t.Fatalf("metrics.jsonl: %d rows, %v", len(ms), err)
	}
	csv, err := os.ReadFile(filepath.Join(dirs[0], MetricsCSV))
	if err != nil || bytes.Count(csv, []byte("\n")) != 7 {
		t.Fatalf("metrics.csv: %q, %v", csv, err)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], BestFile)); err != nil {
		t.Error(err)
	}
	// Another seed gives another run.
	c := testConfig()
	c.Seed = 8
	res, err := Run(context.Background(), newBlobs(1), c, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(strip(res.Epochs)[0], a[0]) {
		t.Error("seeds 7 and 8 gave the same first epoch")
	}
}

// TestResume interrupts runs at several steps (mid-epoch and at epoch
// ends) and checks that the resumed run ends exactly as an uninterrupted
// one.
func TestResume(t *testing.T) {
	ref := t.TempDir()
	want, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: ref})
	if err != nil {
		t.Fatal(err)
	}
	wantParams := paramsOf(t, filepath.Join(ref, LastFile))
	for _, stopAt := range [][2]int{{0, 2}, {2, 5}, {3, 0}} {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Run(ctx, newBlobs(1), testConfig(), Options{Dir: dir, AfterStep: func(e, b int) {
			if e == stopAt[0] && b == stopAt[1] {
				cancel()
			}
		}})
		cancel()
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop at %v: err %v, want ErrInterrupted", stopAt, err)
		}
		got, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true})
		if err != nil {
			t.Fatalf("resume after %v: %v", stopAt, err)
		}
		a, b := strip(want.Epochs), strip(got.Epochs)
		if len(a) != len(b) {
			t.Fatalf("resume after %v: %d epochs, want %d", stopAt, len(b), len(a))
		}
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("resume after %v, epoch %d:\n%+v\nwant\n%+v", stopAt, i+1, b[i], a[i])
			}
		}
		p := paramsOf(t, filepath.Join(dir, LastFile))
		for i := range p {
			if p[i] != wantParams[i] {
				t.Fatalf("resume after %v: parameter %d is %v, want %v", stopAt, i, p[i], wantParams[i])
			}
		}
	}
}

// TestResumeAfterKill replays a kill after epoch 2's checkpoint: the run
// directory holds that checkpoint and metrics of later epochs; resuming
// drops them, reruns and ends as the uninterrupted run.
func TestResumeAfterKill(t *testing.T) {
	dir := t.TempDir()
	var saved []byte
	want, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, OnEpoch: func(m EpochMetrics) {
		if m.Epoch == 2 {
			saved, _ = os.ReadFile(filepath.Join(dir, LastFile))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, LastFile), saved, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := strip(want.Epochs), strip(got.Epochs)
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("epoch %d after resume:\n%+v\nwant\n%+v", i+1, b[i], a[i])
		}
	}
}

func TestNonFiniteStops(t *testing.T) {
	dir := t.TempDir()
	task := newBlobs(1)
	task.nanAt = 14 // epoch 3 (6 steps per epoch)
	_, err := Run(context.Background(), task, testConfig(), Options{Dir: dir})
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("err %v, want ErrNonFinite", err)
	}
	ms, _ := ReadMetrics(filepath.Join(dir, MetricsJSONL))
	if len(ms) != 2 {
		t.Fatalf("%d epochs of metrics, want 2", len(ms))
	}
	for _, v := range paramsOf(t, filepath.Join(dir, LastFile)) {
		if math.IsNaN(float64(v)) {
			t.Fatal("the checkpoint left behind holds NaN")
		}
	}
	// A NaN in the first step still leaves a usable checkpoint.
	dir = t.TempDir()
	task = newBlobs(1)
	task.nanAt = 1
	if _, err := Run(context.Background(), task, testConfig(), Options{Dir: dir}); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("err %v", err)
	}
	paramsOf(t, filepath.Join(dir, LastFile))
}

func TestRunRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"epochs", func(c *Config) { c.Epochs = 0 }},
		{"batch", func(c *Config) { c.BatchSize = -1 }},
		{"lr", func(c *Config) { c.LR = math.NaN() }},
		{"batch larger than the data", func(c *Config) { c.BatchSize = 1000 }},
	} {
		c := testConfig()
		tc.cfg(&c)
		if _, err := Run(context.Background(), newBlobs(1), c, Options{Dir: t.TempDir()}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: t.TempDir(), Resume: true}); err == nil {
		t.Error("resume without a checkpoint: no error")
	}
	// Resuming with other settings is refused.
	dir := t.TempDir()
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	c := testConfig()
	c.LR *= 2
	c.Epochs = 9
	if _, err := Run(context.Background(), newBlobs(1), c, Options{Dir: dir, Resume: true}); err == nil ||
		!strings.Contains(err.Error(), "(epochs 6, now 9; lr 0.01, now 0.02)") {
		t.Errorf("resume with another learning rate and epochs: %v, want the two settings named", err)
	}
}

func TestSchedule(t *testing.T) {
	c := PointMAEFineTune()
	// Epochs 0 and 1 both train with the warm-up start; epoch 11 with the
	// full rate (the cosine barely started), the last with nearly the
	// minimum. Per epoch, every step of an epoch has its epoch's rate.
	if c.Schedule(0, 0, 10) != 1e-6 || c.Schedule(1, 0, 10) != 1e-6 || c.Schedule(1, 9, 10) != 1e-6 {
		t.Errorf("epochs 0, 1: %g %g", c.Schedule(0, 0, 10), c.Schedule(1, 0, 10))
	}
	if got := c.Schedule(11, 3, 10); math.Abs(got-5e-4) > 5e-6 {
		t.Errorf("epoch 11: %g", got)
	}
	if got := c.Schedule(299, 0, 10); got > 1e-5 {
		t.Errorf("epoch 299: %g", got)
	}
	// Per step, the rate moves within an epoch without the one-epoch lag:
	// the warm-up rises from its first step, reaches the base rate after
	// WarmupEpochs×perEpoch steps and the cosine ends after Epochs×perEpoch.
	c.ScheduleUnit = "step"
	if got := c.Schedule(0, 0, 10); got != 1e-6 {
		t.Errorf("step 0: %g", got)
	}
	if a, b := c.Schedule(0, 1, 10), c.Schedule(0, 2, 10); !(1e-6 < a && a < b) {
		t.Errorf("steps 1, 2 of the warm-up: %g %g", a, b)
	}
	if got := c.Schedule(10, 0, 10); math.Abs(got-5e-4) > 5e-6 {
		t.Errorf("step 100: %g, want about the base rate", got)
	}
	if a, b := c.Schedule(150, 3, 10), c.Schedule(150, 4, 10); !(a > b) {
		t.Errorf("steps 1503, 1504 of the cosine: %g %g", a, b)
	}
	c.ScheduleUnit = "steps"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "schedule_unit") {
		t.Errorf("schedule unit steps: %v", err)
	}
}

func TestStreamsIndependent(t *testing.T) {
	seen := map[uint64]bool{}
	for _, k := range []uint64{StreamOrder, StreamData, StreamModel, StreamEval} {
		for e := 0; e < 3; e++ {
			for b := 0; b < 3; b++ {
				v := Stream(1, k, e, b).Uint64()
				if seen[v] {
					t.Fatalf("stream %d/%d/%d repeats another", k, e, b)
				}
				seen[v] = true
			}
		}
	}
	if Stream(1, StreamData, 2, 3).Uint64() != Stream(1, StreamData, 2, 3).Uint64() {
		t.Error("a stream is not reproducible")
	}
}

// failingDevice fails on its first upload, as a device that is out of
// memory or gone does.
type failingDevice struct{ nn.Device }

func (failingDevice) String() string              { return "failing" }
func (failingDevice) Alloc(n int) nn.DeviceBuffer { return nil }
func (failingDevice) Free(nn.DeviceBuffer)        {}
func (failingDevice) Upload(nn.DeviceBuffer, []float32) {
	panic(&nn.DeviceError{Err: errors.New("out of memory")})
}
func (failingDevice) Download([]float32, nn.DeviceBuffer) {
	panic(&nn.DeviceError{Err: errors.New("device lost")})
}

func TestDeviceFailureIsAnError(t *testing.T) {
	_, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: t.TempDir(), Device: failingDevice{}})
	var de *nn.DeviceError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("err %v, want the device's error", err)
	}
	// The parameters are usable on the host again.
	task := newBlobs(1)
	Run(context.Background(), task, testConfig(), Options{Dir: t.TempDir(), Device: failingDevice{}})
	if _, err := Run(context.Background(), task, testConfig(), Options{Dir: t.TempDir()}); err != nil {
		t.Fatalf("the same task on the CPU after a device failure: %v", err)
	}
}

// Parameters that go non-finite with a finite loss (an overflowing
// update) are never saved: not as best, not as last on an interrupt, and
// the error names the checkpoint that is good.
func TestNonFiniteParametersNotSaved(t *testing.T) {
	checkFinite := func(dir string) {
		t.Helper()
		for _, f := range []string{LastFile, BestFile} {
			for _, v := range paramsOf(t, filepath.Join(dir, f)) {
				if v-v != 0 {
					t.Fatalf("%s holds %v", f, v)
				}
			}
		}
	}
	// In the last step of epoch 2 (6 steps per epoch).
	dir := t.TempDir()
	task := newBlobs(1)
	task.poisonAt = 12
	_, err := Run(context.Background(), task, testConfig(), Options{Dir: dir})
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "fc1.weight") ||
		!strings.Contains(err.Error(), "last good checkpoint is "+filepath.Join(dir, LastFile)+" (after epoch 1)") {
		t.Fatalf("err %v, want ErrNonFinite naming fc1.weight and the checkpoint after epoch 1", err)
	}
	checkFinite(dir)
	// Interrupted right after the step that overflowed: the interrupt's
	// save is refused and last.safetensors stays as it was.
	dir = t.TempDir()
	task = newBlobs(1)
	task.poisonAt = 9
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Run(ctx, task, testConfig(), Options{Dir: dir, AfterStep: func(e, b int) {
		if e == 1 && b == 2 {
			cancel()
		}
	}})
	cancel()
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "after epoch 1") {
		t.Fatalf("err %v, want ErrNonFinite naming the checkpoint after epoch 1", err)
	}
	checkFinite(dir)
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true}); err != nil {
		t.Fatalf("resume from the good checkpoint: %v", err)
	}
	// Non-finite from the start: nothing is written, and the message
	// points at the weights.
	dir = t.TempDir()
	task = newBlobs(1)
	task.fc2.Bias.Data[1] = float32(math.NaN())
	if _, err := Run(context.Background(), task, testConfig(), Options{Dir: dir}); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "before training") {
		t.Fatalf("NaN weights at the start: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LastFile)); err == nil {
		t.Error("a checkpoint of NaN weights was written")
	}
}

// A resume whose last checkpoint is damaged (truncated, or holding NaN)
// says that best.safetensors is there and how to use it, and following
// that advice ends the run as an uninterrupted one.
func TestResumeDamagedLast(t *testing.T) {
	ref := t.TempDir()
	want, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: ref})
	if err != nil {
		t.Fatal(err)
	}
	run := func() string { // a run interrupted in epoch 5
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		Run(ctx, newBlobs(1), testConfig(), Options{Dir: dir, AfterStep: func(e, b int) {
			if e == 4 && b == 1 {
				cancel()
			}
		}})
		cancel()
		return dir
	}
	nanBits := []byte{0, 0, 0xc0, 0x7f}
	for name, damage := range map[string]func(b []byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"NaN":       func(b []byte) []byte { copy(b[len(b)-4:], nanBits); return b },
		"bit flip":  func(b []byte) []byte { b[len(b)-6] ^= 1; return b },
	} {
		dir := run()
		last := filepath.Join(dir, LastFile)
		b, err := os.ReadFile(last)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(last, damage(b), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true})
		best := filepath.Join(dir, BestFile)
		if err == nil || !strings.Contains(err.Error(), best+" (after epoch") || !strings.Contains(err.Error(), "pcx eval --ckpt "+best) ||
			!strings.Contains(err.Error(), "copy it over "+last) {
			t.Fatalf("%s: resume: %v; want the way on from %s", name, err, best)
		}
		if name == "bit flip" && !errors.Is(err, state.ErrChecksum) {
			t.Errorf("bit flip: %v, want the checksum's error", err)
		}
		t.Logf("%s: %v", name, err)
		// The advice: best over last, resume.
		bb, _ := os.ReadFile(best)
		os.WriteFile(last, bb, 0o644)
		got, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true})
		if err != nil {
			t.Fatalf("%s: resume from best: %v", name, err)
		}
		if a, b := strip(want.Epochs), strip(got.Epochs); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%s: resumed from best:\n%+v\nwant\n%+v", name, b, a)
		}
	}
	// Without a best checkpoint, the message says there is none.
	dir := run()
	os.Remove(filepath.Join(dir, BestFile))
	os.WriteFile(filepath.Join(dir, LastFile), []byte("garbage"), 0o644)
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true}); err == nil || !strings.Contains(err.Error(), "no "+filepath.Join(dir, BestFile)) {
		t.Fatalf("no best: %v", err)
	}
}

// A panic in a task's Batch, in a loader goroutine, ends the run with an
// error naming the batch and sample, not the process.
func TestBatchPanicIsAnError(t *testing.T) {
	task := newBlobs(1)
	task.panicAt = 40
	_, err := Run(context.Background(), task, testConfig(), Options{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "building train batch") || !strings.Contains(err.Error(), "nil map") ||
		!strings.Contains(err.Error(), "the last good checkpoint is") {
		t.Fatalf("err %v, want the batch's panic", err)
	}
	if got := samples([]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); got != "1 2 3 4 5 6 7 8 … (10 in all)" {
		t.Errorf("samples: %q", got)
	}
}

// Resuming a run that has trained all its epochs says so and changes
// nothing.
func TestResumeComplete(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	n := testConfig().Epochs
	if e, done := Complete(dir); !done || e != n {
		t.Errorf("Complete after the run: %d, %v; want %d, true", e, done, n)
	}
	if _, done := Complete(t.TempDir()); done {
		t.Error("an empty directory is complete")
	}
	before := map[string][]byte{}
	for _, f := range []string{MetricsJSONL, MetricsCSV, LastFile, BestFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}
	var log strings.Builder
	_, err := Run(context.Background(), newBlobs(1), testConfig(), Options{Dir: dir, Resume: true, Log: &log})
	want := fmt.Sprintf("run %s is complete (%d epochs); nothing to do", dir, n)
	if !errors.Is(err, ErrComplete) || err.Error() != want {
		t.Fatalf("resuming a complete run: %v, want %q", err, want)
	}
	if strings.Contains(log.String(), "resuming") {
		t.Errorf("resuming a complete run logged %q", log.String())
	}
	for f, b := range before {
		if got, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(got, b) {
			t.Errorf("resuming a complete run changed %s", f)
		}
	}
}
