package pretrain

import (
	"context"
	"fmt"
	"sync"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets/imagesets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/probe"
	"github.com/pcx-dev/pcx/train"
)

// The image probe's defaults (ImageConfig.ProbeTrain, ProbeTest): VTAB-1K's
// 1,000 training images and 2,000 test images, so that a probe of the
// vit-mini costs seconds.
const (
	ProbeTrainImages = 1000
	ProbeTestImages  = 2000
)

// ProbeSameData is ImageConfig.Probe's value for the run's own data set
// with its labels (Data opened as a labelled collection).
const ProbeSameData = "data"

// probeFolderTest is the share of a class-folder probe set without train/
// and test/ folders held out as its test split.
const probeFolderTest = 0.2

// Salts of the probe subsets' seeds. The training subset's is pcx train's
// --train-subset salt, so that with seed 0 the probe fits on the very
// images pcx train fashion-mnist --train-subset 1000 fine-tunes on.
const (
	saltProbeTrain = 0x7375627365743031
	saltProbeTest  = 0x70726f6265746573
)

// imageProbeCacheLimit bounds the bytes of transformed probe images kept
// between probes; a larger probe set is decoded and transformed again
// each time.
const imageProbeCacheLimit = 256 << 20

// probeDir is the folder of the run's probe data ("" when none).
func (c ImageConfig) probeDir() string {
	if c.Probe == ProbeSameData {
		return c.Data
	}
	return c.Probe
}

// validateProbe checks the probe settings, and that Train.Best names a
// metric the run has.
func (c ImageConfig) validateProbe() error {
	switch {
	case c.ProbeTrain < 0 || c.ProbeTest < 0 || c.ProbeEvery < 0:
		return fmt.Errorf("probe_train, probe_test and probe_every must not be negative (got %d, %d, %d)", c.ProbeTrain, c.ProbeTest, c.ProbeEvery)
	case len(c.Probe) > 4096:
		return fmt.Errorf("probe: the folder is %d bytes long", len(c.Probe))
	case c.Probe == "" && (c.ProbeTrain != 0 || c.ProbeTest != 0 || c.ProbeEvery != 0):
		return fmt.Errorf("probe_train, probe_test and probe_every need a probe data set (probe:)")
	}
	var ms []train.Metric
	if c.Probe != "" {
		ms = []train.Metric{{Name: ProbeMetric, Higher: true}}
	}
	return train.CheckBestProbe(c.Train.Best, nil, ms)
}

// LoadImageProbeData opens the run's probe data set (ImageConfig.Probe: a
// labelled collection imagesets.Open reads, or the run's own data): nil
// when the run has no probe. Its training images are ProbeTrain of the
// set's (ProbeTrainImages when 0), picked as pcx train --train-subset picks
// with seed 0, its test images ProbeTest of the set's (ProbeTestImages
// when 0) picked by another fixed seed; all of a split when it has fewer.
// The same images are probed whatever the run's seed.
func LoadImageProbeData(c ImageConfig) (*ImageCorpus, error) {
	dir := c.probeDir()
	if dir == "" {
		return nil, nil
	}
	d, err := imagesets.Open(dir, imagesets.Options{TestFraction: probeFolderTest, Fashion: c.Kind == "fashion-mnist"})
	if err != nil {
		return nil, fmt.Errorf("probe data: %w", err)
	}
	if d.Train.Len() == 0 || d.Test.Len() == 0 {
		return nil, fmt.Errorf("probe data %s: the probe needs labelled training and test images (has %d and %d)", dir, d.Train.Len(), d.Test.Len())
	}
	out := &ImageCorpus{Name: d.Name, Train: d.Train, Test: d.Test}
	ntr, nte := c.ProbeTrain, c.ProbeTest
	if ntr == 0 {
		ntr = ProbeTrainImages
	}
	if nte == 0 {
		nte = ProbeTestImages
	}
	if ntr < d.Train.Len() {
		out.TrainIdx = pick(ntr, d.Train.Len(), 0, saltProbeTrain)
	}
	if nte < d.Test.Len() {
		out.TestIdx = pick(nte, d.Test.Len(), 0, saltProbeTest)
	}
	return out, nil
}

// labels are the classes of a split's images in use.
func (d *ImageCorpus) labels(s train.Split) []int {
	sp, idx := d.split(s)
	if idx == nil {
		return sp.Labels
	}
	out := make([]int, len(idx))
	for k, i := range idx {
		out[k] = sp.Labels[i]
	}
	return out
}

// ImageFeatures are the features MAE's linear probing reads of a labelled
// image set: each image resized and normalised as at evaluation (no
// augmentation), the encoder run on every patch (ViTMAE.Encode: no patch
// masked), and the final norm's cls token taken (models_vit.py with
// global_pool off, main_linprobe.py's default): Cfg.Width values.
type ImageFeatures struct {
	Model *backbone.ViTMAE
	// Data is the labelled set; both splits must have images.
	Data *ImageCorpus
	// Batch is the number of images encoded at once (0: 64).
	Batch int

	mu     sync.Mutex
	cached [2][]float32 // the transformed images of each split, when small enough
	pool   *nn.Pool
}

// NewImageProbe checks that data can be probed and returns the probe of
// m's features of it (ImageFeatures), with probe.LinearSVC()'s settings
// and the features standardised (FeatureProbe.Standardise), as MAE's
// linear probing's BatchNorm does.
func NewImageProbe(m *backbone.ViTMAE, data *ImageCorpus, every int) (*FeatureProbe, error) {
	if data == nil || data.Len(train.TrainSplit) == 0 || data.Len(train.TestSplit) == 0 {
		return nil, fmt.Errorf("pretrain: the probe data set needs labelled training and test images")
	}
	tr, te := data.labels(train.TrainSplit), data.labels(train.TestSplit)
	two := false
	for _, l := range tr {
		two = two || l != tr[0]
	}
	if !two {
		return nil, fmt.Errorf("pretrain: the probe data set %s has one class in its training split; an SVM needs two", data.Name)
	}
	f := &ImageFeatures{Model: m, Data: data}
	return &FeatureProbe{Name: data.Name, Extract: f.FeaturesShowing, Dim: m.Cfg.Width, TrainLabels: tr, TestLabels: te,
		Every: every, SVM: probe.LinearSVC(), Standardise: true}, nil
}

// Features returns the features of a split's images (n × Width,
// row-major).
func (f *ImageFeatures) Features(ctx context.Context, s train.Split) ([]float32, error) {
	return f.FeaturesShowing(ctx, s, nil)
}

// FeaturesShowing is Features calling done(n) (when not nil) as each n
// more images are encoded.
func (f *ImageFeatures) FeaturesShowing(ctx context.Context, s train.Split, done func(n int)) ([]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pool == nil {
		f.pool = nn.NewPool()
	}
	size := f.Model.Cfg.ImageSize
	per := 3 * size * size
	n := f.Data.Len(s)
	all := f.cached[s]
	if all == nil && 4*n*per <= imageProbeCacheLimit {
		var err error
		if all, err = f.transform(ctx, s, 0, n); err != nil {
			return nil, err
		}
		f.cached[s] = all
	}
	bs := f.Batch
	if bs <= 0 {
		bs = 64
	}
	c := f.Model.Cfg.Width
	out := make([]float32, 0, n*c)
	for lo := 0; lo < n; lo += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+bs, n)
		var pix []float32
		if all != nil {
			pix = all[lo*per : hi*per]
		} else {
			var err error
			if pix, err = f.transform(ctx, s, lo, hi); err != nil {
				return nil, err
			}
		}
		tp := nn.NewTapePool(false, f.pool).Scope()
		tok, err := f.Model.Encode(tp, &backbone.Images{B: hi - lo, H: size, W: size, Pix: pix})
		if err != nil {
			tp.Release()
			return nil, err
		}
		// The cls tokens only leave the device.
		out = append(out, nn.SliceTokens(tp, tok, 0, 1).Host()[:(hi-lo)*c]...)
		tp.Release()
		if done != nil {
			done(hi - lo)
		}
	}
	return out, nil
}

// transform decodes images [lo, hi) of a split and transforms them as at
// evaluation (resized, bicubic, and ImageNet-normalised).
func (f *ImageFeatures) transform(ctx context.Context, s train.Split, lo, hi int) ([]float32, error) {
	size := f.Model.Cfg.ImageSize
	per := 3 * size * size
	tf := PretrainTransform(size)
	out := make([]float32, (hi-lo)*per)
	for i := lo; i < hi; i++ {
		if (i-lo)%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		img, name, err := f.Data.Image(s, i)
		if err != nil {
			return nil, fmt.Errorf("probe data: %w", err)
		}
		if err := tf.Apply(img, false, nil, out[(i-lo)*per:(i-lo+1)*per]); err != nil {
			return nil, fmt.Errorf("probe data %s: %w", name, err)
		}
	}
	return out, nil
}

// newImageProbe makes the run's probe, loading its data unless o has it.
func newImageProbe(c ImageConfig, m *backbone.ViTMAE, o Options) (*FeatureProbe, error) {
	d := o.ImageProbeData
	if d == nil {
		var err error
		if d, err = LoadImageProbeData(c); err != nil {
			return nil, err
		}
	}
	p, err := NewImageProbe(m, d, c.ProbeEvery)
	if err != nil {
		return nil, err
	}
	if o.Log != nil {
		classes := map[int]bool{}
		for _, l := range p.TrainLabels {
			classes[l] = true
		}
		fmt.Fprintf(o.Log, "probe: a linear SVM on the encoder's cls features of %s (%d train, %d test images, %d classes)", d.Name,
			len(p.TrainLabels), len(p.TestLabels), len(classes))
		if c.ProbeEvery > 1 {
			fmt.Fprintf(o.Log, " every %d epochs", c.ProbeEvery)
		}
		fmt.Fprintln(o.Log)
	}
	return p, nil
}
