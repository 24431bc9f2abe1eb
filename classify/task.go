package classify

import (
	"math/rand/v2"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/train"
)

// Task is point-cloud classification as a train.Task.
type Task struct {
	Model *Model
	Data  *datasets.Dataset
	// Rotate, when set, rotates each training cloud about this axis ("x",
	// "y" or "z") by a random angle, after ScaleAndTranslate.
	Rotate string
	// Vote makes test batches Point-MAE's voting views: FPS to
	// points.PointAll, one random subset per batch, ScaleAndTranslate.
	Vote bool
	// Grouper, when set, groups each batch on that device in Logits
	// (points.GroupOn: the same centres and neighbourhoods as knn.Group)
	// instead of on the host in the loader: batches then carry their
	// sampled, augmented clouds.
	Grouper points.Grouper
}

// Batch is a batch of clouds from the points pipeline (grouped, or with
// Task.Grouper the clouds to group, with Groups nil until Logits) and
// their classes.
type Batch struct {
	*points.Batch
	labels []int
}

// Labels are the batch's classes.
func (b *Batch) Labels() []int { return b.labels }

// Len is the number of clouds in the batch.
func (b *Batch) Len() int { return len(b.labels) }

// Params lists the model's parameters.
func (t *Task) Params() nn.Params { return t.Model.Params() }

func (t *Task) split(s train.Split) *datasets.Split {
	if s == train.TrainSplit {
		return t.Data.Train
	}
	return t.Data.Test
}

// Len is the number of samples of a split.
func (t *Task) Len(s train.Split) int { return t.split(s).Len() }

// Batch builds the batch of samples idx with points.Pipeline: in training,
// each cloud's points are shuffled (as the data sets' loaders do), FPS takes
// PointAll of them, one random subset of npoints is taken for the whole
// batch and each cloud is scaled and translated; at test time FPS takes
// npoints.
func (t *Task) Batch(s train.Split, idx []int, r *rand.Rand) (train.Batch, error) {
	sp := t.split(s)
	pb, err := t.pipeline().Build(sp.Points, idx, s == train.TrainSplit, r, s.String(), t.Data.Name)
	if err != nil {
		return nil, err
	}
	labels := make([]int, len(idx))
	for k, i := range idx {
		labels[k] = sp.Labels[i]
	}
	return &Batch{Batch: pb, labels: labels}, nil
}

// pipeline is the task's points pipeline.
func (t *Task) pipeline() *points.Pipeline {
	cfg := t.Model.Cfg
	return &points.Pipeline{Points: cfg.Points, Groups: cfg.Groups, GroupSize: cfg.GroupSize,
		Rotate: t.Rotate, Vote: t.Vote, Grouper: t.Grouper}
}

// Logits runs the model on a batch, grouping it first on Task.Grouper
// when the loader left it ungrouped.
func (t *Task) Logits(tp *nn.Tape, b train.Batch, r *rand.Rand) *nn.Tensor {
	return t.Model.Forward(tp, t.pipeline().Group(tp, b.(*Batch).Batch), r)
}

// Metrics are classification's: the accuracy.
func (t *Task) Metrics() []train.Metric { return Metrics() }

// Metrics lists classification's metrics, the order of StepOutput's sums:
// the accuracy, acc.
func Metrics() []train.Metric { return []train.Metric{{Name: "acc", Higher: true}} }

// Step runs the model on a batch and returns its cross-entropy, DAPT-X's
// balance loss weighted by its α as an extra loss, and the number of
// correct predictions.
func (t *Task) Step(tp *nn.Tape, b train.Batch, r *rand.Rand) train.Output {
	logits, balance := t.Model.ForwardAux(tp, t.pipeline().Group(tp, b.(*Batch).Batch), r)
	return StepOutput(tp, logits, b.(*Batch).labels, balance, t.Model.Cfg.Alpha)
}

// StepOutput is a classification step's outcome from its logits: the loss
// is the cross-entropy against labels, balance (when not nil) an extra
// loss weighted by alpha, and the sum of the acc metric the number of rows
// whose largest logit is their label's.
func StepOutput(tp *nn.Tape, logits *nn.Tensor, labels []int, balance *nn.Tensor, alpha float32) train.Output {
	o := train.Output{Loss: nn.CrossEntropy(tp, logits, labels, 0), Out: logits}
	if balance != nil {
		o.Aux = []train.Aux{{Name: "balance", Value: balance, Weight: alpha}}
	}
	correct := 0
	for i, p := range nn.ArgmaxRows(logits.Host(), len(labels), logits.Dim(-1)) {
		if p == labels[i] {
			correct++
		}
	}
	o.Sums = []float64{float64(correct)}
	return o
}
