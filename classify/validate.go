package classify

import (
	"fmt"
	"math"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/train"
)

// Validate checks a model configuration's numbers before anything is
// built: every size positive, npoints enough for the groups, the rates in
// [0, 1), and the weights within this machine's memory.
func (m ModelConfig) Validate() error {
	for _, s := range []struct {
		name string
		v    int
	}{{"trans_dim", m.TransDim}, {"depth", m.Depth}, {"num_heads", m.Heads}, {"cls_dim", m.Classes},
		{"num_group", m.Groups}, {"group_size", m.GroupSize}, {"npoints", m.Points}} {
		if s.v <= 0 {
			return fmt.Errorf("model %s must be positive (got %d)", s.name, s.v)
		}
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"rank", m.Rank}, {"smoa_heads", m.SMoAHeads}, {"experts", m.Experts}, {"adapter_rank", m.AdapterRank}} {
		if s.v < 0 {
			return fmt.Errorf("model %s must not be negative (got %d)", s.name, s.v)
		}
	}
	if m.TransDim%m.Heads != 0 {
		return fmt.Errorf("model trans_dim %d does not split into %d heads", m.TransDim, m.Heads)
	}
	if m.Groups > m.Points || m.GroupSize > m.Points {
		return fmt.Errorf("model: %d groups of %d points cannot be drawn from npoints %d", m.Groups, m.GroupSize, m.Points)
	}
	for _, s := range []struct {
		name string
		v    float32
	}{{"drop_path_rate", m.DropPath}, {"head_dropout", m.HeadDropout}, {"adapter_dropout", m.AdapterDropout}} {
		if !(s.v >= 0 && s.v < 1) {
			return fmt.Errorf("model %s must be in [0, 1) (got %v)", s.name, s.v)
		}
	}
	if math.IsNaN(float64(m.Alpha)) || math.IsInf(float64(m.Alpha), 0) {
		return fmt.Errorf("model alpha must be finite (got %v)", m.Alpha)
	}
	return memlimit.Check(fmt.Sprintf("a model %d wide and %d deep", m.TransDim, m.Depth), m.weightBytes())
}

// weightBytes is a lower bound on the bytes of the model's weights: the
// transformer blocks' attention and MLP (12·trans_dim² each), the patch
// encoder and the head.
func (m ModelConfig) weightBytes() int64 {
	d, depth := int64(m.TransDim), int64(m.Depth)
	blocks := memlimit.Bytes(depth, 12, d, d)
	rest := memlimit.Sum(memlimit.Bytes(512, 512), memlimit.Bytes(d, 512+128), memlimit.Bytes(2*d, 256),
		memlimit.Bytes(256, int64(m.Classes)))
	return memlimit.Bytes(4, memlimit.Sum(blocks, rest))
}

// batchBytes is a lower bound on the bytes one batch of b clouds needs on
// top of the weights: the loaded clouds and, at least, the largest of the
// patch encoder's features, the attention maps and the MLP's hidden layer.
func (m ModelConfig) batchBytes(b int) int64 {
	g, k, d, h := int64(m.Groups), int64(m.GroupSize), int64(m.TransDim), int64(m.Heads)
	in := memlimit.Bytes(int64(points.PointAll(m.Points)), 3)
	peak := max(memlimit.Bytes(g, k, 512), memlimit.Bytes(h, g+1, g+1), memlimit.Bytes(g+1, 4, d))
	return memlimit.Bytes(4, int64(b), memlimit.Sum(in, peak))
}

// CheckBatch refuses a batch of b clouds (with workers more being loaded)
// that would not fit in memory with the weights.
func (m ModelConfig) CheckBatch(what string, b int, workers int64) error {
	if b <= 0 {
		return fmt.Errorf("%s: the batch size must be positive (got %d)", what, b)
	}
	loading := memlimit.Bytes(workers, 4, int64(b), int64(points.PointAll(m.Points)), 3)
	need := memlimit.Sum(m.weightBytes(), m.batchBytes(b), loading)
	return memlimit.Check(fmt.Sprintf("%s in batches of %d clouds of %d points", what, b, m.Points), need)
}

// Validate checks a whole run configuration: the model's and the
// training's numbers, the data's point count, the rotation axis, and that
// a training batch fits in memory.
func (c Config) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if err := c.Train.Validate(); err != nil {
		return err
	}
	if err := train.CheckBest(c.Train.Best, Metrics()); err != nil {
		return err
	}
	if len(c.Reinit) > 0 && (c.Ckpt == "" || c.Ckpt == "none") {
		return fmt.Errorf("reinit keeps parameters from a checkpoint's values, but there is no checkpoint (ckpt)")
	}
	for _, p := range c.Reinit {
		if p == "" || len(p) > 200 {
			return fmt.Errorf("reinit patterns must be names or shell patterns of parameters (got %q)", p)
		}
	}
	t := c.Train
	for _, f := range []struct {
		name string
		v    float64
	}{{"weight_decay", t.WeightDecay}, {"grad_norm_clip", t.ClipGrad}, {"min_lr", t.MinLR}, {"warmup_lr", t.WarmupLR}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("train %s must be a finite number (got %v)", f.name, f.v)
		}
	}
	if c.TrainSubset < 0 {
		return fmt.Errorf("train_subset must not be negative (got %d)", c.TrainSubset)
	}
	if c.DataPoints < 0 {
		return fmt.Errorf("data_points must not be negative (got %d)", c.DataPoints)
	}
	if err := CheckData(c.Data, datasets.Options{Variant: c.Variant, Points: c.DataPoints}); err != nil {
		return err
	}
	if c.Rotate != "" {
		if _, err := pointcloud.ParseAxis(c.Rotate); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	return c.Model.CheckBatch("training", c.Train.BatchSize, memlimit.Sum(int64(c.Train.Workers), int64(c.Train.Prefetch)))
}

// DataBytes is a lower bound on the bytes opening the data set spec with
// opt needs: for synth, every generated sample at opt.Points points; for
// any other, one sample of each split at opt.Points points (with normals
// when asked).
func DataBytes(spec string, opt datasets.Options) int64 {
	if kind, _ := datasets.ParseSpec(spec); kind == datasets.KindSynth {
		so := synth.DefaultOptions()
		if opt.Points > 0 {
			so.Points = opt.Points
		}
		return memlimit.Bytes(int64(len(synth.Classes())), int64(so.Train+so.Test), int64(so.Points), 12)
	}
	per := int64(12)
	if opt.Normals {
		per = 24
	}
	return memlimit.Bytes(2, int64(max(opt.Points, 0)), per)
}

// CheckData refuses options that cannot open a data set: a negative point
// count, or one whose samples would not fit in memory.
func CheckData(spec string, opt datasets.Options) error {
	if opt.Points < 0 {
		return fmt.Errorf("%s: the number of points per sample must not be negative (got %d)", spec, opt.Points)
	}
	return memlimit.Check(fmt.Sprintf("%s at %d points per sample", spec, opt.Points), DataBytes(spec, opt))
}
