package classify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/train"
)

// EvalOptions choose how a checkpoint is evaluated.
type EvalOptions struct {
	// Vote adds Point-MAE's voting: Votes views per sample (FPS to
	// PointAll, a random npoints-subset, ScaleAndTranslate), logits
	// averaged. The whole voting pass is repeated Repeats times with
	// different random views.
	Vote           bool
	Votes, Repeats int
	Batch, Workers int
	Seed           uint64
	// Device, when set, runs the model there (the parameters move to it
	// for the call) and groups the batches there when it can.
	Device nn.Device
	// Progress, when set, shows how far the evaluation has come (every
	// pass, voting included, on one bar; see train.Progress).
	Progress io.Writer
}

// ClassAcc is one class's accuracy.
type ClassAcc struct {
	Name    string  `json:"name"`
	Correct int     `json:"correct"`
	Total   int     `json:"total"`
	Acc     float64 `json:"acc"`
}

// VoteStats summarises repeated voting passes.
type VoteStats struct {
	Votes   int       `json:"votes"`
	Repeats int       `json:"repeats"`
	Accs    []float64 `json:"accs"`
	Mean    float64   `json:"mean"`
	Std     float64   `json:"std"` // sample standard deviation (0 for one repeat)
	Max     float64   `json:"max"`
}

// EvalReport is the outcome of evaluating a checkpoint on a test split.
type EvalReport struct {
	Samples int     `json:"samples"`
	Acc     float64 `json:"acc"` // single pass, FPS to npoints, no augmentation
	// MeanClassAcc is the mean of the per-class accuracies (mAcc).
	MeanClassAcc float64    `json:"mean_class_acc"`
	PerClass     []ClassAcc `json:"per_class"`
	// Confusion[true][predicted] counts the single pass's predictions.
	Confusion [][]int    `json:"confusion"`
	Vote      *VoteStats `json:"vote,omitempty"`
	// Predictions are the single pass's per-sample outcomes, in split
	// order (written by pcx eval --predictions, not part of the report).
	Predictions []SamplePrediction `json:"-"`
}

// SamplePrediction is one test sample's single-pass outcome.
type SamplePrediction struct {
	// Index is the sample's position in the test split.
	Index int `json:"index"`
	// Label and Pred are the true and predicted classes' names.
	Label string `json:"label"`
	Pred  string `json:"prediction"`
	// Logits are the model's scores, one per class in the data set's
	// class order.
	Logits []float32 `json:"logits"`
}

// Evaluate runs a trained model on data's test split: one plain pass, and
// voting passes when asked.
func Evaluate(ctx context.Context, tr *Trained, data *datasets.Dataset, opt EvalOptions) (_ *EvalReport, err error) {
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
	if opt.Vote && (opt.Votes <= 0 || opt.Repeats <= 0) {
		return nil, fmt.Errorf("voting needs at least one vote and one repeat (got %d, %d)", opt.Votes, opt.Repeats)
	}
	defer func() {
		if err != nil && tr.Path != "" {
			err = fmt.Errorf("%s on %s: %w", tr.Path, data.Name, err)
		}
	}()
	pool := nn.NewPool()
	task := &Task{Model: tr.Model, Data: data}
	if opt.Device != nil {
		undo, derr := onDevice(tr.Model.Params(), opt.Device)
		if derr != nil {
			return nil, derr
		}
		defer undo(&err)
		task.Grouper, _ = opt.Device.(points.Grouper)
	}
	passes := 1
	if opt.Vote {
		passes += opt.Votes * opt.Repeats
	}
	bar := train.NewProgress(opt.Progress, passes*data.Test.Len(), "eval "+data.Name)
	defer bar.Finish()
	var got Outcomes
	ev, err := train.EvaluateShowing(ctx, task, train.TestSplit, opt.Batch, opt.Workers, opt.Seed, pool, bar, got.Add)
	if err != nil {
		return nil, err
	}
	rep, err := NewReport(ev, data.Classes, &got)
	if err != nil {
		return nil, err
	}
	if !opt.Vote {
		return rep, nil
	}
	vs := &VoteStats{Votes: opt.Votes, Repeats: opt.Repeats}
	vtask := &Task{Model: tr.Model, Data: data, Vote: true, Grouper: task.Grouper}
	for rpt := 0; rpt < opt.Repeats; rpt++ {
		var sum [][]float32
		var labels []int
		for v := 0; v < opt.Votes; v++ {
			seed := train.Stream(opt.Seed, train.StreamEval, rpt, v).Uint64()
			var e Outcomes
			if _, err := train.EvaluateShowing(ctx, vtask, train.TestSplit, opt.Batch, opt.Workers, seed, pool, bar, e.Add); err != nil {
				return nil, err
			}
			if sum == nil {
				sum, labels = e.logits, e.labels
				continue
			}
			for i := range sum {
				for j := range sum[i] {
					sum[i][j] += e.logits[i][j]
				}
			}
		}
		correct := 0
		for i, row := range sum {
			if nn.ArgmaxRows(row, 1, len(row))[0] == labels[i] {
				correct++
			}
		}
		vs.Accs = append(vs.Accs, float64(correct)/float64(len(labels)))
	}
	vs.Mean, vs.Std = meanStd(vs.Accs)
	vs.Max = vs.Accs[0]
	for _, a := range vs.Accs {
		vs.Max = math.Max(vs.Max, a)
	}
	rep.Vote = vs
	return rep, nil
}

// NewReport builds a classification report from an evaluation's outcomes
// (collected by Outcomes.Add in split order): accuracy, per-class
// accuracies and their mean, the confusion matrix and per-sample
// predictions. Non-finite logits are an error naming the sample.
func NewReport(ev *train.Eval, classes []string, got *Outcomes) (*EvalReport, error) {
	c := len(classes)
	rep := &EvalReport{Samples: ev.Samples, Acc: ev.Mean(0), Confusion: make([][]int, c)}
	for i := range rep.Confusion {
		rep.Confusion[i] = make([]int, c)
	}
	for i, l := range got.labels {
		if err := checkFinite(got.logits[i]); err != nil {
			return nil, fmt.Errorf("test sample %d: %w", i, err)
		}
		rep.Confusion[l][got.preds[i]]++
		rep.Predictions = append(rep.Predictions, SamplePrediction{Index: i, Label: classes[l],
			Pred: classes[got.preds[i]], Logits: got.logits[i]})
	}
	n := 0
	for k, name := range classes {
		ca := ClassAcc{Name: name, Correct: rep.Confusion[k][k]}
		for _, v := range rep.Confusion[k] {
			ca.Total += v
		}
		if ca.Total > 0 {
			ca.Acc = float64(ca.Correct) / float64(ca.Total)
			rep.MeanClassAcc += ca.Acc
			n++
		}
		rep.PerClass = append(rep.PerClass, ca)
	}
	if n > 0 {
		rep.MeanClassAcc /= float64(n)
	}
	return rep, nil
}

// Outcomes are an evaluation's per-sample labels, predictions (the
// largest logit's class) and logits, in split order.
type Outcomes struct {
	labels, preds []int
	logits        [][]float32
}

// Labelled is a batch that knows its samples' classes.
type Labelled interface{ Labels() []int }

// Add records a batch's outcomes (train.Evaluate's each); b must be
// Labelled.
func (o *Outcomes) Add(b train.Batch, out train.Output) {
	labels := b.(Labelled).Labels()
	c := out.Out.Dim(-1)
	hl := out.Out.Host()
	pred := nn.ArgmaxRows(hl, len(labels), c)
	for i, l := range labels {
		o.labels = append(o.labels, l)
		o.preds = append(o.preds, pred[i])
		o.logits = append(o.logits, append([]float32(nil), hl[i*c:(i+1)*c]...))
	}
}

func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}

// Prediction is one file's top classes, most probable first, with their
// probabilities (the softmax of the logits over every class) and logits,
// or why the file could not be classified.
type Prediction struct {
	File    string    `json:"file"`
	Classes []string  `json:"classes,omitempty"`
	Probs   []float64 `json:"probs,omitempty"`
	Logits  []float32 `json:"logits,omitempty"`
	// Error, when not empty, says why the file could not be classified
	// (it cannot be read, holds too few points...); nothing else but File
	// is set then.
	Error string `json:"error,omitempty"`
}

// PredictOptions choose how files are prepared.
type PredictOptions struct {
	// TopK classes are returned per file (every class when 0 or more
	// than the model has).
	TopK int
	// MeshPoints is the number of points sampled from a mesh's surface
	// before FPS takes the model's npoints (8192, as ModelNet40's clouds).
	MeshPoints int
	// Normalize centres each cloud and scales it into the unit sphere, as
	// the training data was when it came from ModelNet40, synth or meshes.
	Normalize bool
	Seed      uint64
	// Up is the files' up axis (x, y or z), which is turned to the
	// training data's (Trained.Up) before anything else; "" leaves the
	// files as they are.
	Up string
	// Device, when set, runs the model (and the grouping) there.
	Device nn.Device
}

// Predict classifies point-cloud or mesh files. Meshes (files with faces)
// are sampled on their surface; every cloud is reduced to the model's
// npoints by FPS, as at test time. It returns one Prediction per file, in
// order: a file that cannot be classified has its Error set, the others
// are still classified, and the error returned then counts the failures
// and gives the first. Only a failure that concerns every file (the
// options, the device, a model whose outputs are not finite) returns no
// predictions.
func Predict(tr *Trained, paths []string, opt PredictOptions) (_ []Prediction, err error) {
	if opt.TopK < 0 {
		return nil, fmt.Errorf("predict: cannot give the top %d classes", opt.TopK)
	}
	var up pointcloud.Axis
	if opt.Up != "" {
		if up, err = pointcloud.ParseAxis(opt.Up); err != nil {
			return nil, fmt.Errorf("predict: up axis: %w", err)
		}
	}
	if opt.TopK == 0 {
		opt.TopK = len(tr.Classes)
	}
	if opt.MeshPoints <= 0 {
		opt.MeshPoints = 8192
	}
	np := tr.Model.Cfg.Points
	if err := memlimit.Check(fmt.Sprintf("sampling %d points from a mesh", opt.MeshPoints), memlimit.Bytes(int64(max(opt.MeshPoints, np)), 24)); err != nil {
		return nil, err
	}
	if err := tr.Model.Cfg.CheckBatch("predicting", 1, 0); err != nil {
		return nil, err
	}
	var grouper points.Grouper
	if opt.Device != nil {
		undo, derr := onDevice(tr.Model.Params(), opt.Device)
		if derr != nil {
			return nil, derr
		}
		defer undo(&err)
		grouper, _ = opt.Device.(points.Grouper)
	}
	var out []Prediction
	var failed []error
	for _, p := range paths {
		pr, err := predictFile(tr, p, opt, up, grouper)
		var broken brokenModel
		if errors.As(err, &broken) {
			return nil, err
		}
		if err != nil {
			failed = append(failed, err)
			pr = Prediction{File: p, Error: err.Error()}
		}
		out = append(out, pr)
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d of %d files could not be classified (the first: %w)", len(failed), len(paths), failed[0])
	}
	return out, nil
}

// brokenModel is the error of a model whose outputs are not finite: no
// file can be classified with it.
type brokenModel struct{ error }

// predictFile classifies the file at p; errors name it.
func predictFile(tr *Trained, p string, opt PredictOptions, up pointcloud.Axis, grouper points.Grouper) (Prediction, error) {
	np := tr.Model.Cfg.Points
	c, err := pointcloud.ReadFile(p)
	if err != nil {
		return Prediction{}, err
	}
	if len(c.Faces) > 0 {
		if c, err = pointcloud.SampleSurface(c, max(opt.MeshPoints, np), opt.Seed); err != nil {
			return Prediction{}, fmt.Errorf("%s: %w", p, err)
		}
	}
	if n := len(c.XYZ) / 3; n < np {
		return Prediction{}, fmt.Errorf("%s: %d points, fewer than the %d the model was trained on (sample the surface of a mesh, or use a denser scan)", p, n, np)
	}
	if opt.Up != "" {
		turnUp(c.XYZ, up, tr.Up)
	}
	if opt.Normalize {
		pointcloud.Normalize(c.XYZ)
	}
	data := &datasets.Dataset{Name: p, Classes: tr.Classes, Train: &datasets.Split{},
		Test: &datasets.Split{Points: [][]float32{c.XYZ}, Labels: []int{0}}}
	task := &Task{Model: tr.Model, Data: data, Grouper: grouper}
	b, err := task.Batch(train.TestSplit, []int{0}, nil)
	if err != nil {
		return Prediction{}, fmt.Errorf("%s: %w", p, err)
	}
	tp := nn.NoGrad()
	logits := task.Logits(tp, b, nil).Host()
	tp.Release()
	if err := checkFinite(logits); err != nil {
		return Prediction{}, brokenModel{fmt.Errorf("%s on %s: %w", tr.name(), p, err)}
	}
	probs := softmax(logits)
	order := make([]int, len(probs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	pr := Prediction{File: p}
	for _, k := range order[:min(opt.TopK, len(order))] {
		pr.Classes = append(pr.Classes, tr.Classes[k])
		pr.Probs = append(pr.Probs, probs[k])
		pr.Logits = append(pr.Logits, logits[k])
	}
	return pr, nil
}

// turnUp rotates the cloud xyz by a quarter turn so that what lay along
// axis from lies along axis to (the third axis stays; nothing happens when
// from is to): a z-up scan is turned y up, say, as a y-up model expects.
func turnUp(xyz []float32, from, to pointcloud.Axis) {
	if from == to {
		return
	}
	// About the third axis, a quarter turn counter-clockwise takes x to y,
	// y to z and z to x (pointcloud.Rotate), and clockwise the other way.
	angle := math.Pi / 2
	if to != (from+1)%3 {
		angle = -angle
	}
	pointcloud.Rotate(xyz, nil, 3-from-to, angle)
}

// onDevice moves ps to d and returns what undoes it. The undo copies ps
// back and turns a device failure (a *nn.DeviceError panic, during the
// work or the copy back) into *err, never a crash.
func onDevice(ps nn.Params, d nn.Device) (undo func(err *error), err error) {
	if err := nn.CatchDevice(func() { ps.ToDevice(d) }); err != nil {
		ps.Detach() // let go of what did move
		return nil, err
	}
	return func(err *error) {
		if p := recover(); p != nil {
			de, ok := p.(*nn.DeviceError)
			if !ok {
				panic(p)
			}
			*err = de
		}
		if e := nn.CatchDevice(ps.ToHost); e != nil {
			ps.Detach()
			if *err == nil {
				*err = e
			}
		}
	}, nil
}

// checkFinite refuses outputs that are NaN or infinite: the weights that
// gave them are broken (a diverged run), and nothing can be ranked.
func checkFinite(logits []float32) error {
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("the model's output for class %d is %v (the checkpoint's weights are not usable)", i, v)
		}
	}
	return nil
}

func softmax(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, float64(x))
	}
	out := make([]float64, len(v))
	s := 0.0
	for i, x := range v {
		out[i] = math.Exp(float64(x) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
