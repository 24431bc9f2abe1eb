package classify

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/fps"
	"github.com/pcx-dev/pcx/knn"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/train"
)

// PointAll is the number of points Point-MAE's training step takes by FPS
// before drawing its random npoints-subset: 1200 for 1024, 2400 for 2048,
// 4800 for 4096, npoints otherwise (capped by the cloud size).
func PointAll(npoints int) int {
	switch npoints {
	case 1024:
		return 1200
	case 2048:
		return 2400
	case 4096:
		return 4800
	}
	return npoints
}

// Task is point-cloud classification as a train.Task.
type Task struct {
	Model *Model
	Data  *datasets.Dataset
	// Rotate, when set, rotates each training cloud about this axis ("x",
	// "y" or "z") by a random angle, after ScaleAndTranslate.
	Rotate string
	// Vote makes test batches Point-MAE's voting views: FPS to PointAll,
	// one random subset per batch, ScaleAndTranslate.
	Vote bool
	// Grouper, when set, groups each batch on that device in Logits
	// (backbone.GroupOn: the same centres and neighbourhoods as knn.Group)
	// instead of on the host in the loader: batches then carry their
	// sampled, augmented clouds.
	Grouper nn.PointGrouper
}

// Batch is a grouped batch of clouds (or, with Task.Grouper, the clouds
// to group: b×n×3 in xyz, and Groups nil until Logits).
type Batch struct {
	Groups *backbone.Groups
	labels []int
	xyz    []float32
	b, n   int
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

// Batch builds the grouped batch of samples idx: in training, each cloud's
// points are shuffled (as the data sets' loaders do), FPS takes PointAll of
// them, one random subset of npoints is taken for the whole batch and each
// cloud is scaled and translated; at test time FPS takes npoints.
func (t *Task) Batch(s train.Split, idx []int, r *rand.Rand) (train.Batch, error) {
	sp := t.split(s)
	np := t.Model.Cfg.Points
	aug := s == train.TrainSplit || t.Vote
	take := np
	if aug {
		take = PointAll(np)
	}
	for _, i := range idx {
		if n := len(sp.Points[i]) / 3; n < np {
			return nil, fmt.Errorf("%s sample %d of %s has %d points, fewer than the %d the model takes", s, i, t.Data.Name, n, np)
		} else if n < take {
			take = n
		}
	}
	b := len(idx)
	xyz := make([]float32, 0, b*take*3)
	labels := make([]int, b)
	for k, i := range idx {
		src := sp.Points[i]
		if s == train.TrainSplit {
			src = append([]float32(nil), src...)
			pointcloud.ShufflePoints(src, r)
		}
		sel, err := fps.Sample(src, take, fps.Options{Workers: 1})
		if err != nil {
			return nil, fmt.Errorf("%s sample %d of %s: %w", s, i, t.Data.Name, err)
		}
		xyz = append(xyz, fps.Gather(src, sel)...)
		labels[k] = sp.Labels[i]
	}
	if aug {
		sub, err := pointcloud.BatchSubset(take, np, r)
		if err != nil {
			return nil, err
		}
		xyz = pointcloud.GatherBatch(xyz, b, take, sub)
		pointcloud.DefaultScaleAndTranslate(xyz, b, np, r)
		if t.Rotate != "" && s == train.TrainSplit {
			ax, err := pointcloud.ParseAxis(t.Rotate)
			if err != nil {
				return nil, err
			}
			for k := 0; k < b; k++ {
				pointcloud.RandomRotate(xyz[k*np*3:(k+1)*np*3], nil, ax, r)
			}
		}
	}
	cfg := t.Model.Cfg
	if t.Grouper != nil {
		for _, v := range xyz {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("grouping a %s batch of %s: a coordinate is %v", s, t.Data.Name, v)
			}
		}
		if cfg.Groups > np || cfg.GroupSize > np {
			return nil, fmt.Errorf("grouping a %s batch of %s: %d groups of %d from %d points", s, t.Data.Name, cfg.Groups, cfg.GroupSize, np)
		}
		return &Batch{labels: labels, xyz: xyz, b: b, n: np}, nil
	}
	g, err := knn.Group(xyz, b, np, cfg.Groups, cfg.GroupSize, knn.Options{Workers: 1})
	if err != nil {
		return nil, fmt.Errorf("grouping a %s batch of %s: %w", s, t.Data.Name, err)
	}
	return &Batch{Groups: &backbone.Groups{B: b, G: g.G, M: g.K, Centres: g.Centres, Neighbourhoods: g.Neighbourhoods},
		labels: labels}, nil
}

// Logits runs the model on a batch, grouping it first on Task.Grouper
// when the loader left it ungrouped.
func (t *Task) Logits(tp *nn.Tape, b train.Batch, r *rand.Rand) *nn.Tensor {
	bt := b.(*Batch)
	g := bt.Groups
	if g == nil {
		cfg := t.Model.Cfg
		g = backbone.GroupOn(tp, t.Grouper, bt.xyz, bt.b, bt.n, cfg.Groups, cfg.GroupSize)
	}
	return t.Model.Forward(tp, g, r)
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
	logits := t.Logits(tp, b, r)
	var balance *nn.Tensor
	var alpha float32
	if d := t.Model.DAPTX; d != nil {
		balance, alpha = d.BalanceLoss, d.Cfg.Alpha
	}
	return StepOutput(tp, logits, b.(*Batch).labels, balance, alpha)
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
