package vision

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets/imagesets"
	"github.com/pcx-dev/pcx/images"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/train"
)

// EvalOptions choose how a checkpoint is evaluated.
type EvalOptions struct {
	Batch, Workers int
	// Progress, when set, shows how far the evaluation has come.
	Progress io.Writer
}

// task is tr's task on data, with its run's transform.
func (tr *Trained) task(data *imagesets.Dataset) *Task {
	return &Task{Model: tr.Model, Data: data, Transform: tr.Config.transform()}
}

// Evaluate runs a trained image model on data's test split.
func Evaluate(ctx context.Context, tr *Trained, data *imagesets.Dataset, opt EvalOptions) (_ *classify.EvalReport, err error) {
	if len(data.Classes) != tr.Model.Cfg.Classes {
		return nil, fmt.Errorf("%s has %d classes, the checkpoint's model %d", data.Name, len(data.Classes), tr.Model.Cfg.Classes)
	}
	if opt.Batch <= 0 {
		opt.Batch = 64
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if err := tr.Model.Cfg.CheckBatch("evaluating", opt.Batch, int64(opt.Workers)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && tr.Path != "" {
			err = fmt.Errorf("%s on %s: %w", tr.Path, data.Name, err)
		}
	}()
	bar := train.NewProgress(opt.Progress, data.Test.Len(), "eval "+data.Name)
	defer bar.Finish()
	var got classify.Outcomes
	ev, err := train.EvaluateShowing(ctx, tr.task(data), train.TestSplit, opt.Batch, opt.Workers, 0, nn.NewPool(), bar, got.Add)
	if err != nil {
		return nil, err
	}
	return classify.NewReport(ev, data.Classes, &got)
}

// Predict classifies image files with the run's test transform. It returns
// one Prediction per file, in order: a file that cannot be read has its
// Error set, the others are still classified, and the error returned
// counts the failures and gives the first.
func Predict(tr *Trained, paths []string, topK int) ([]classify.Prediction, error) {
	tf := tr.Config.transform()
	size := tr.Model.Cfg.ImageSize
	per := 3 * size * size
	out := make([]classify.Prediction, len(paths))
	var failed []int
	for i, p := range paths {
		out[i].File = p
		img, err := images.Decode(p)
		if err == nil {
			pix := make([]float32, per)
			if err = tf.Apply(img, false, nil, pix); err == nil {
				tp := nn.NoGrad()
				logits := tr.Model.Net.Forward(tp, &backbone.Images{B: 1, H: size, W: size, Pix: pix}, nil).Host()
				out[i] = topClasses(p, logits, tr.Classes, topK)
				tp.Release()
			}
		}
		if err != nil {
			out[i].Error = err.Error()
			failed = append(failed, i)
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d of %d files could not be classified (first: %s)", len(failed), len(paths), out[failed[0]].Error)
	}
	return out, nil
}

// topClasses is one file's top k classes by softmax probability.
func topClasses(file string, logits []float32, classes []string, k int) classify.Prediction {
	if k <= 0 || k > len(classes) {
		k = len(classes)
	}
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	probs := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp(float64(v) - mx)
		sum += probs[i]
	}
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
		probs[i] /= sum
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	p := classify.Prediction{File: file, Logits: append([]float32(nil), logits...)}
	for _, j := range order[:k] {
		p.Classes = append(p.Classes, classes[j])
		p.Probs = append(p.Probs, probs[j])
	}
	return p
}

// RoutingOf runs an Adapter-X model over data's test split and records
// its routing (see classify.NewRoutingStats for token).
func RoutingOf(ctx context.Context, tr *Trained, data *imagesets.Dataset, token string, batch, workers int) (*adapters.Routing, error) {
	n := tr.Model.Net
	if len(n.SMoA) == 0 {
		return nil, fmt.Errorf("routing exists only for adapter-x and adaptformer-x (this checkpoint is %s)", tr.Model.Cfg.Method)
	}
	st, err := classify.NewRoutingStats(token)
	if err != nil {
		return nil, err
	}
	for _, s := range n.SMoA {
		s.Stats = st
	}
	defer func() {
		for _, s := range n.SMoA {
			s.Stats = nil
		}
	}()
	if _, err := train.Evaluate(ctx, tr.task(data), train.TestSplit, max(batch, 1), workers, 0, nil, nil); err != nil {
		return nil, err
	}
	return st.Summary(token, data.Test.Labels[0])
}

// Features returns the head's input (the final norm's cls token) of the
// test samples, with their labels: every sample, or limit of them evenly
// spaced over the split when limit is positive and smaller.
func Features(ctx context.Context, tr *Trained, data *imagesets.Dataset, limit, batch, workers int) ([][]float32, []int, error) {
	var feats [][]float32
	h := tr.Model.Net.Head
	h.Features = func(x *nn.Tensor) {
		c := x.Dim(-1)
		hx := x.Host()
		for i := 0; i < len(hx)/c; i++ {
			feats = append(feats, append([]float32(nil), hx[i*c:(i+1)*c]...))
		}
	}
	defer func() { h.Features = nil }()
	var labels []int
	task := tr.task(data)
	if n := data.Test.Len(); limit > 0 && limit < n {
		for i := 0; i < limit; i++ {
			task.TestIdx = append(task.TestIdx, i*n/limit)
		}
	}
	_, err := train.Evaluate(ctx, task, train.TestSplit, max(batch, 1), workers, 0, nil,
		func(b train.Batch, _ train.Output) { labels = append(labels, b.(*Batch).labels...) })
	if err != nil {
		return nil, nil, err
	}
	if len(feats) != len(labels) {
		return nil, nil, fmt.Errorf("features: %d rows for %d samples", len(feats), len(labels))
	}
	return feats, labels, nil
}
