package pretrain

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/train"
)

// Task is Point-MAE pretraining as a train.Task. The training split's
// clouds are pretrained on; the test split's, when UseTest is set and the
// split is not empty, give a held-out reconstruction loss (test_loss).
type Task struct {
	Model *backbone.PointMAEPretrain
	Data  *datasets.Dataset
	// UseTest evaluates the reconstruction loss on Data.Test every epoch.
	UseTest bool
	// Probing.SVM, when set, probes the encoder's features after each
	// epoch (or every SVM.Every epochs): probe_svm_acc.
	Probing
}

// Batch is a batch of grouped clouds and the mask drawn for it.
type Batch struct {
	*points.Batch
	// Mask is B×G, true for a masked group.
	Mask []bool
}

// Len is the number of clouds in the batch.
func (b *Batch) Len() int { return b.B }

// Params lists the whole pretraining model's parameters.
func (t *Task) Params() nn.Params { return t.Model.Params() }

// Metrics: none beyond the loss.
func (t *Task) Metrics() []train.Metric { return nil }

func (t *Task) split(s train.Split) *datasets.Split {
	if s == train.TrainSplit {
		return t.Data.Train
	}
	if !t.UseTest {
		return nil
	}
	return t.Data.Test
}

// Len is the number of clouds of a split (0 for the test split unless
// UseTest).
func (t *Task) Len(s train.Split) int {
	sp := t.split(s)
	if sp == nil {
		return 0
	}
	return sp.Len()
}

func (t *Task) pipeline() *points.Pipeline {
	c := t.Model.Cfg
	return &points.Pipeline{Points: c.NPoints, Groups: c.NumGroup, GroupSize: c.GroupSize}
}

// Batch builds the batch of clouds idx with points.Pipeline (in training:
// points shuffled, FPS, a random subset of NPoints, scale and translate;
// at test time FPS to NPoints), groups it on the host and draws its mask
// from r.
func (t *Task) Batch(s train.Split, idx []int, r *rand.Rand) (train.Batch, error) {
	sp := t.split(s)
	if sp == nil {
		return nil, fmt.Errorf("pretrain: no %s split", s)
	}
	pb, err := t.pipeline().Build(sp.Points, idx, s == train.TrainSplit, r, s.String(), t.Data.Name)
	if err != nil {
		return nil, err
	}
	if pb.Groups == nil {
		return nil, fmt.Errorf("pretrain: %s batch was not grouped", s)
	}
	mask, err := t.Model.DrawMask(pb.Groups, r)
	if err != nil {
		return nil, err
	}
	return &Batch{Batch: pb, Mask: mask}, nil
}

// Step runs the model on a batch with its mask; the loss is the Chamfer-L2
// distance of the rebuilt masked groups. A batch that Forward refuses
// cannot come from Batch, which checks the groups and draws the mask to
// the model's sizes; Step panics on one.
func (t *Task) Step(tp *nn.Tape, b train.Batch, r *rand.Rand) train.Output {
	pb := b.(*Batch)
	out, err := t.Model.Forward(tp, pb.Groups, pb.Mask, r)
	if err != nil {
		panic(fmt.Sprintf("pretrain: %v", err))
	}
	return train.Output{Loss: out.Loss, Sums: []float64{}, Out: out.Rebuild}
}
