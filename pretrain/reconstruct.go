package pretrain

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points/fps"
	"github.com/pcx-dev/pcx/train"
)

// Reconstruction is what the masked autoencoder makes of one cloud, every
// point in the batch's coordinates (a group's points relative to its
// centre plus the centre), three values per point.
type Reconstruction struct {
	// Input holds the cloud: from Reconstruct, the points of all its
	// groups (a point that several groups share once, unless rounding
	// tells its copies apart); from ReconstructSamples, the whole cloud
	// the model took.
	Input []float32
	// Visible holds the visible groups' points, group after group.
	Visible []float32
	// Masked holds the masked groups' true points, group after group in
	// ascending group order: what the model rebuilds.
	Masked []float32
	// Predicted holds the model's points for the masked groups, in the
	// order of Masked: each group's predicted points plus its centre.
	Predicted []float32
	// VisibleGroups and MaskedGroups count the groups.
	VisibleGroups, MaskedGroups int
}

// Reconstruct runs m on a batch (from Task.Batch) in evaluation mode (no
// drop-path, BatchNorm's running statistics) and returns each cloud's
// reconstruction. The batch's groups must be on the host.
func Reconstruct(m *backbone.PointMAEPretrain, b *Batch) ([]Reconstruction, error) {
	if b == nil || b.Batch == nil || b.Groups == nil || b.Groups.Centres == nil || b.Groups.Neighbourhoods == nil {
		return nil, fmt.Errorf("pretrain: reconstruction needs a batch grouped on the host")
	}
	g := b.Groups
	tp := nn.NewTape(false)
	out, err := m.Forward(tp, g, b.Mask, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	pred := out.Rebuild.Host()
	nm, s := out.Masked, g.M
	if len(pred) != g.B*nm*s*3 {
		return nil, fmt.Errorf("pretrain: the model rebuilt %d values for %d clouds of %d masked groups of %d points", len(pred), g.B, nm, s)
	}
	recs := make([]Reconstruction, g.B)
	for i := range recs {
		r := &recs[i]
		seen := map[[3]float32]bool{}
		q := 0 // the cloud's masked groups so far
		for j := 0; j < g.G; j++ {
			k := i*g.G + j
			c := g.Centres[3*k : 3*k+3]
			nb := g.Neighbourhoods[k*s*3 : (k+1)*s*3]
			masked := b.Mask[k]
			for p := 0; p < s; p++ {
				pt := [3]float32{nb[3*p] + c[0], nb[3*p+1] + c[1], nb[3*p+2] + c[2]}
				if !seen[pt] {
					seen[pt] = true
					r.Input = append(r.Input, pt[:]...)
				}
				if masked {
					r.Masked = append(r.Masked, pt[:]...)
				} else {
					r.Visible = append(r.Visible, pt[:]...)
				}
			}
			if !masked {
				r.VisibleGroups++
				continue
			}
			pg := pred[((i*nm)+q)*s*3 : ((i*nm)+q+1)*s*3]
			for p := 0; p < s; p++ {
				r.Predicted = append(r.Predicted, pg[3*p]+c[0], pg[3*p+1]+c[1], pg[3*p+2]+c[2])
			}
			q++
		}
		r.MaskedGroups = q
		if q != nm {
			return nil, fmt.Errorf("pretrain: cloud %d masks %d groups, the model rebuilt %d", i, q, nm)
		}
	}
	return recs, nil
}

// ReconstructSamples reconstructs up to n clouds of data: the first ones of
// its test split, or of its training split when the test split is empty.
// The batch is built as test batches are (farthest-point sampling to the
// model's points, no augmentation) and its masks drawn from seed, so the
// result depends on the model and the data only. Each Input is the whole
// cloud the model took (the farthest-point sample), not only its groups'
// points.
func ReconstructSamples(m *backbone.PointMAEPretrain, data *datasets.Dataset, n int, seed uint64) ([]Reconstruction, error) {
	if n < 1 {
		return nil, fmt.Errorf("pretrain: cannot reconstruct %d clouds", n)
	}
	task := &Task{Model: m, Data: data, UseTest: true}
	split := train.TestSplit
	if task.Len(split) == 0 {
		split = train.TrainSplit
	}
	n = min(n, task.Len(split))
	if n == 0 {
		return nil, fmt.Errorf("pretrain: %s has no clouds to reconstruct", data.Name)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	b, err := task.Batch(split, idx, rand.New(rand.NewPCG(seed, 0x5eed)))
	if err != nil {
		return nil, err
	}
	recs, err := Reconstruct(m, b.(*Batch))
	if err != nil {
		return nil, err
	}
	// The test batch's clouds, as points.Pipeline samples them.
	sp := data.Test
	if split == train.TrainSplit {
		sp = data.Train
	}
	for i := range recs {
		src := sp.Points[i]
		sel, err := fps.Sample(src, m.Cfg.NPoints, fps.Options{Workers: 1})
		if err != nil {
			return nil, fmt.Errorf("pretrain: %s sample %d of %s: %w", split, i, data.Name, err)
		}
		recs[i].Input = fps.Gather(src, sel)
	}
	return recs, nil
}

// LoadModel builds the run's pretraining model (its config.yaml) and loads
// a checkpoint of it, such as RUN/last.safetensors (empty ckpt: that one).
func LoadModel(dir, ckpt string) (Config, *backbone.PointMAEPretrain, error) {
	c, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return c, nil, err
	}
	m, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(c.Train.Seed, 0, 0, 0))
	if err != nil {
		return c, nil, err
	}
	if ckpt == "" {
		ckpt = filepath.Join(dir, train.LastFile)
	}
	if _, err := m.LoadPretrainWeights(ckpt, backbone.LoadOptions{}); err != nil {
		return c, nil, err
	}
	return c, m, nil
}
