package points

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points/fps"
	"github.com/pcx-dev/pcx/points/knn"
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

// Pipeline turns clouds into a network's input batch as Point-MAE's
// classification does.
type Pipeline struct {
	// Points is the number of points per cloud the network takes; Groups
	// and GroupSize shape its groups.
	Points, Groups, GroupSize int
	// Rotate, when set, rotates each training cloud about this axis ("x",
	// "y" or "z") by a random angle, after ScaleAndTranslate.
	Rotate string
	// Vote makes test batches Point-MAE's voting views: FPS to PointAll,
	// one random subset per batch, ScaleAndTranslate.
	Vote bool
	// Grouper, when set, groups each batch on that device in Group (the
	// same centres and neighbourhoods as the host's knn.Group) instead of
	// on the host in Build: batches then carry their sampled, augmented
	// clouds.
	Grouper Grouper
}

// Batch is a grouped batch of clouds or, with Pipeline.Grouper, the clouds
// to group: XYZ is B×N×3, and Groups is nil until Pipeline.Group.
type Batch struct {
	Groups *Groups
	XYZ    []float32
	B, N   int
}

// Build makes the batch of clouds[i] for i in idx. In training, each cloud's
// points are shuffled (as the data sets' loaders do), FPS takes PointAll of
// them, one random subset of Points is taken for the whole batch and each
// cloud is scaled, translated and (with Rotate) rotated; at test time FPS
// takes Points, or with Vote the training path without the shuffle and the
// rotation. r is drawn from in that order. split and data name the batch in
// errors ("train sample 3 of synth ...").
func (p *Pipeline) Build(clouds [][]float32, idx []int, training bool, r *rand.Rand, split, data string) (*Batch, error) {
	np := p.Points
	aug := training || p.Vote
	take := np
	if aug {
		take = PointAll(np)
	}
	for _, i := range idx {
		if n := len(clouds[i]) / 3; n < np {
			return nil, fmt.Errorf("%s sample %d of %s has %d points, fewer than the %d the model takes", split, i, data, n, np)
		} else if n < take {
			take = n
		}
	}
	b := len(idx)
	xyz := make([]float32, 0, b*take*3)
	for _, i := range idx {
		src := clouds[i]
		if training {
			src = append([]float32(nil), src...)
			pointcloud.ShufflePoints(src, r)
		}
		sel, err := fps.Sample(src, take, fps.Options{Workers: 1})
		if err != nil {
			return nil, fmt.Errorf("%s sample %d of %s: %w", split, i, data, err)
		}
		xyz = append(xyz, fps.Gather(src, sel)...)
	}
	if aug {
		sub, err := pointcloud.BatchSubset(take, np, r)
		if err != nil {
			return nil, err
		}
		xyz = pointcloud.GatherBatch(xyz, b, take, sub)
		pointcloud.DefaultScaleAndTranslate(xyz, b, np, r)
		if p.Rotate != "" && training {
			ax, err := pointcloud.ParseAxis(p.Rotate)
			if err != nil {
				return nil, err
			}
			for k := 0; k < b; k++ {
				pointcloud.RandomRotate(xyz[k*np*3:(k+1)*np*3], nil, ax, r)
			}
		}
	}
	if p.Grouper != nil {
		for _, v := range xyz {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("grouping a %s batch of %s: a coordinate is %v", split, data, v)
			}
		}
		if p.Groups > np || p.GroupSize > np {
			return nil, fmt.Errorf("grouping a %s batch of %s: %d groups of %d from %d points", split, data, p.Groups, p.GroupSize, np)
		}
		return &Batch{XYZ: xyz, B: b, N: np}, nil
	}
	g, err := Group(xyz, b, np, p.Groups, p.GroupSize, knn.Options{Workers: 1})
	if err != nil {
		return nil, fmt.Errorf("grouping a %s batch of %s: %w", split, data, err)
	}
	return &Batch{Groups: g, B: b, N: np}, nil
}

// Group returns the batch's groups, grouping it first on p.Grouper when
// Build left it ungrouped.
func (p *Pipeline) Group(tp *nn.Tape, b *Batch) *Groups {
	if b.Groups != nil {
		return b.Groups
	}
	return GroupOn(tp, p.Grouper, b.XYZ, b.B, b.N, p.Groups, p.GroupSize)
}
