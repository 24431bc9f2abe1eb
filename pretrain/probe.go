package pretrain

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/probe"
	"github.com/pcx-dev/pcx/train"
)

// ProbeMetric is the probe's column in a run's metrics: probe_svm_acc.
const ProbeMetric = "svm_acc"

// probeCacheLimit bounds the bytes of grouped probe clouds kept between
// probes; a larger probe set is grouped again each time.
const probeCacheLimit = 256 << 20

// FeatureProbe is Point-MAE's SVM validation for any encoder: a linear SVM
// (probe.LinearSVC: scikit-learn's LinearSVC defaults) fitted on the frozen
// features of a labelled data set's training split and scored on its test
// split's. Extract supplies the features; PointFeatures is the point-cloud
// encoder's, and an image encoder's plugs in the same way.
type FeatureProbe struct {
	// Name names the probe data in messages.
	Name string
	// Extract returns a split's features, Dim values a sample, row-major,
	// in the order of the labels, calling done(n) (when not nil) as each
	// n more samples are done.
	Extract func(ctx context.Context, s train.Split, done func(n int)) ([]float32, error)
	Dim     int
	// TrainLabels and TestLabels are the splits' classes.
	TrainLabels, TestLabels []int
	// Every probes after every n-th epoch and the last (≤ 1: every epoch).
	Every int
	// SVM is the classifier's settings.
	SVM probe.SVMConfig
	// Shots, when positive, fits the SVM on that many training samples of
	// each class instead of the whole training split and averages the test
	// accuracy over ShotDraws draws with fixed seeds: a few-label probe,
	// where pretrained features differ most from random ones (with many
	// labels an SVM separates even a random encoder's features well).
	Shots int
	// Standardise scales each feature to zero mean and unit variance over
	// the training split (ε 1e-6; the test split with the training
	// split's statistics) before the fit: MAE's linear probing's
	// BatchNorm1d without affine parameters in front of its classifier.
	Standardise bool
}

// Run measures the encoder as it stands: the SVM's test accuracy.
func (p *FeatureProbe) Run(ctx context.Context) (float64, error) {
	return p.RunShowing(ctx, nil)
}

// Work is the number of samples one Run extracts the features of.
func (p *FeatureProbe) Work() int { return len(p.TrainLabels) + len(p.TestLabels) }

// RunShowing is Run calling done(n) (when not nil) as each n more samples'
// features are extracted.
func (p *FeatureProbe) RunShowing(ctx context.Context, done func(n int)) (float64, error) {
	ftr, err := p.Extract(ctx, train.TrainSplit, done)
	if err != nil {
		return 0, err
	}
	fte, err := p.Extract(ctx, train.TestSplit, done)
	if err != nil {
		return 0, err
	}
	if p.Standardise {
		standardise(ftr, fte, p.Dim)
	}
	if p.Shots > 0 {
		return p.fewShot(ctx, ftr, fte)
	}
	acc, _, err := probe.SVMAccuracy(ctx, ftr, p.TrainLabels, fte, p.TestLabels, p.Dim, p.SVM)
	if err != nil {
		return 0, fmt.Errorf("probe on %s: %w", p.Name, err)
	}
	return acc, nil
}

// ShotDraws is the number of training subsets a few-shot probe averages.
const ShotDraws = 5

// fewShot is RunShowing's probe with Shots samples of each class: the mean
// test accuracy of ShotDraws SVMs, each fitted on its own draw.
func (p *FeatureProbe) fewShot(ctx context.Context, ftr, fte []float32) (float64, error) {
	byClass := map[int][]int{}
	for i, l := range p.TrainLabels {
		byClass[l] = append(byClass[l], i)
	}
	classes := slices.Sorted(maps.Keys(byClass))
	for _, c := range classes {
		if n := len(byClass[c]); n < p.Shots {
			return 0, fmt.Errorf("probe on %s: class %d has %d training samples, fewer than the %d shots asked", p.Name, c, n, p.Shots)
		}
	}
	sum := 0.0
	for d := range ShotDraws {
		r := rng.New(rng.Mix64(uint64(d) ^ 0x70726f626573686f)) // "probesho"
		var x []float32
		var y []int
		for _, c := range classes {
			idx := byClass[c]
			for _, k := range r.Perm(len(idx))[:p.Shots] {
				i := idx[k]
				x = append(x, ftr[i*p.Dim:(i+1)*p.Dim]...)
				y = append(y, c)
			}
		}
		acc, _, err := probe.SVMAccuracy(ctx, x, y, fte, p.TestLabels, p.Dim, p.SVM)
		if err != nil {
			return 0, fmt.Errorf("probe on %s: %w", p.Name, err)
		}
		sum += acc
	}
	return sum / ShotDraws, nil
}

// standardise scales each of the d features of the rows of tr and te by
// tr's mean and (biased) variance: (x − mean)/√(var + 1e-6).
func standardise(tr, te []float32, d int) {
	n := len(tr) / d
	if n == 0 {
		return
	}
	mean := make([]float64, d)
	vr := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range tr[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j, v := range tr[i*d : (i+1)*d] {
			e := float64(v) - mean[j]
			vr[j] += e * e
		}
	}
	for j := range vr {
		vr[j] = 1 / math.Sqrt(vr[j]/float64(n)+1e-6)
	}
	for _, x := range [][]float32{tr, te} {
		for i := range x {
			j := i % d
			x[i] = float32((float64(x[i]) - mean[j]) * vr[j])
		}
	}
}

// Probing makes a task a train.Prober: embedded in a task, it probes with
// SVM after each epoch (or every SVM.Every), recording probe_svm_acc, and
// does nothing while SVM is nil.
type Probing struct {
	SVM *FeatureProbe
}

// ProbeMetrics is the probe's metric, svm_acc (recorded as probe_svm_acc),
// when there is a probe.
func (p Probing) ProbeMetrics() []train.Metric {
	if p.SVM == nil {
		return nil
	}
	return []train.Metric{{Name: ProbeMetric, Higher: true}}
}

// ProbeEvery is the probe's period in epochs.
func (p Probing) ProbeEvery() int {
	if p.SVM == nil {
		return 0
	}
	return p.SVM.Every
}

// Probe runs the probe on the model as it stands (its parameters on the
// run's device, if any, where the encoder then runs).
func (p Probing) Probe(ctx context.Context, dev nn.Device) ([]float64, error) {
	return p.ProbeShowing(ctx, dev, nil)
}

// ProbeWork is the number of samples a probe extracts the features of (a
// train.ShowingProber's work).
func (p Probing) ProbeWork() int {
	if p.SVM == nil {
		return 0
	}
	return p.SVM.Work()
}

// ProbeShowing is Probe calling done(n) (when not nil) as each n more
// samples' features are extracted.
func (p Probing) ProbeShowing(ctx context.Context, _ nn.Device, done func(n int)) ([]float64, error) {
	if p.SVM == nil {
		return nil, nil
	}
	acc, err := p.SVM.RunShowing(ctx, done)
	if err != nil {
		return nil, err
	}
	return []float64{acc}, nil
}

// PointFeatures are the features Point-MAE's SVM validation takes of a
// labelled point-cloud set: each cloud goes through the test-time pipeline
// (FPS to the model's points, no augmentation), is grouped, and runs
// through MAE_encoder with no group masked (Point-MAE's noaug=True) in
// evaluation mode; its feature is the max and then the mean of the
// encoder's final-norm tokens over the groups (2 × trans_dim values).
type PointFeatures struct {
	Model *backbone.PointMAEPretrain
	// Data is the labelled set; both splits must have clouds.
	Data *datasets.Dataset
	// Batch is the number of clouds encoded at once (0: 64).
	Batch int
	// Workers groups clouds in that many goroutines (0: 2).
	Workers int

	mu     sync.Mutex
	cached [2][]*points.Batch // the grouped batches of each split, when small enough
	pool   *nn.Pool
}

// NewPointProbe checks that data can be probed with m and returns the
// probe of m's features of it (PointFeatures), with probe.LinearSVC()'s
// settings.
func NewPointProbe(m *backbone.PointMAEPretrain, data *datasets.Dataset, every int) (*FeatureProbe, error) {
	if data == nil || data.Train.Len() == 0 || data.Test.Len() == 0 {
		return nil, fmt.Errorf("pretrain: the probe data set needs labelled training and test clouds")
	}
	for _, sp := range []*datasets.Split{data.Train, data.Test} {
		for i, c := range sp.Points {
			if n := len(c) / 3; n < m.Cfg.NPoints {
				return nil, fmt.Errorf("pretrain: probe data %s: sample %d has %d points, fewer than the %d the model takes", data.Name, i, n, m.Cfg.NPoints)
			}
		}
	}
	two := false
	for _, l := range data.Train.Labels {
		two = two || l != data.Train.Labels[0]
	}
	if !two {
		return nil, fmt.Errorf("pretrain: the probe data set %s has one class in its training split; an SVM needs two", data.Name)
	}
	f := &PointFeatures{Model: m, Data: data}
	return &FeatureProbe{Name: data.Name, Extract: f.FeaturesShowing, Dim: 2 * m.Cfg.TransDim,
		TrainLabels: data.Train.Labels, TestLabels: data.Test.Labels, Every: every, SVM: probe.LinearSVC()}, nil
}

// Features returns the features of a split's clouds (n × 2C, row-major:
// the max over the groups, then the mean).
func (p *PointFeatures) Features(ctx context.Context, s train.Split) ([]float32, error) {
	return p.FeaturesShowing(ctx, s, nil)
}

// FeaturesShowing is Features calling done(n) (when not nil) as each n
// more clouds are encoded.
func (p *PointFeatures) FeaturesShowing(ctx context.Context, s train.Split, done func(n int)) ([]float32, error) {
	batches, err := p.batches(ctx, s)
	if err != nil {
		return nil, err
	}
	c := p.Model.Cfg.TransDim
	var out []float32
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tp := nn.NewTapePool(false, p.pool).Scope()
		tok, err := p.Model.Encode(tp, b.Groups, nil, nil)
		if err != nil {
			tp.Release()
			return nil, err
		}
		out = appendMaxMean(out, tok.Host(), b.B, b.Groups.G, c)
		tp.Release()
		if done != nil {
			done(b.B)
		}
	}
	return out, nil
}

// appendMaxMean appends, for each of b clouds of g tokens of c values, the
// tokens' maximum and then their mean, per channel.
func appendMaxMean(out, tok []float32, b, g, c int) []float32 {
	mx := make([]float32, c)
	sum := make([]float64, c)
	for k := 0; k < b; k++ {
		for j := range mx {
			mx[j], sum[j] = float32(math.Inf(-1)), 0
		}
		for t := 0; t < g; t++ {
			row := tok[(k*g+t)*c : (k*g+t+1)*c]
			for j, v := range row {
				mx[j] = max(mx[j], v)
				sum[j] += float64(v)
			}
		}
		out = append(out, mx...)
		for _, v := range sum {
			out = append(out, float32(v/float64(g)))
		}
	}
	return out
}

// batches groups a split's clouds in batches (or returns them from the
// cache).
func (p *PointFeatures) batches(ctx context.Context, s train.Split) ([]*points.Batch, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pool == nil {
		p.pool = nn.NewPool()
	}
	if p.cached[s] != nil {
		return p.cached[s], nil
	}
	sp := p.Data.Train
	if s == train.TestSplit {
		sp = p.Data.Test
	}
	cfg := p.Model.Cfg
	pl := &points.Pipeline{Points: cfg.NPoints, Groups: cfg.NumGroup, GroupSize: cfg.GroupSize}
	bs := p.Batch
	if bs <= 0 {
		bs = 64
	}
	n := sp.Len()
	out := make([]*points.Batch, (n+bs-1)/bs)
	errs := make([]error, len(out))
	workers := p.Workers
	if workers <= 0 {
		workers = 2
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, len(out)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					continue
				}
				var idx []int
				for j := i * bs; j < min((i+1)*bs, n); j++ {
					idx = append(idx, j)
				}
				out[i], errs[i] = pl.Build(sp.Points, idx, false, nil, "probe "+s.String(), p.Data.Name)
			}
		}()
	}
	for i := range out {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	size := 0
	for _, b := range out {
		size += 4 * (len(b.Groups.Centres) + len(b.Groups.Neighbourhoods))
	}
	if size <= probeCacheLimit {
		p.cached[s] = out
	}
	return out, nil
}

// validateProbe checks the probe settings, and that Train.Best names a
// metric the run has.
func (c Config) validateProbe() error {
	switch {
	case c.ProbeEvery < 0:
		return fmt.Errorf("probe_every must not be negative (got %d)", c.ProbeEvery)
	case len(c.Probe) > 4096:
		return fmt.Errorf("probe: the data set spec is %d bytes long", len(c.Probe))
	case c.ProbeShots < 0:
		return fmt.Errorf("probe_shots must not be negative (got %d)", c.ProbeShots)
	case c.Probe == "" && (c.ProbeVariant != "" || c.ProbeEvery != 0 || c.ProbeShots != 0):
		return fmt.Errorf("probe_variant, probe_every and probe_shots need a probe data set (probe:)")
	}
	var ms []train.Metric
	if c.Probe != "" {
		ms = []train.Metric{{Name: ProbeMetric, Higher: true}}
	}
	return train.CheckBestProbe(c.Train.Best, nil, ms)
}

// LoadProbeData opens the run's probe data set (Config.Probe, with
// ProbeVariant; synth with its defaults: seed 0, 80 training clouds per
// class): nil when the run has no probe.
func LoadProbeData(c Config) (*datasets.Dataset, error) {
	if c.Probe == "" {
		return nil, nil
	}
	d, err := datasets.Open(c.Probe, datasets.Options{Variant: c.ProbeVariant})
	if err != nil {
		return nil, fmt.Errorf("probe data: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("probe data %s: %w", c.Probe, err)
	}
	return d, nil
}

// newProbe makes the run's probe, loading its data unless o has it.
func newProbe(c Config, m *backbone.PointMAEPretrain, o Options) (*FeatureProbe, error) {
	d := o.ProbeData
	if d == nil {
		var err error
		if d, err = LoadProbeData(c); err != nil {
			return nil, err
		}
	}
	p, err := NewPointProbe(m, d, c.ProbeEvery)
	if err != nil {
		return nil, err
	}
	p.Shots = c.ProbeShots
	if o.Log != nil {
		fmt.Fprintf(o.Log, "probe: a linear SVM on the encoder's features of %s (%d train, %d test clouds, %d classes)", d.Name,
			d.Train.Len(), d.Test.Len(), len(d.Classes))
		if p.Shots > 0 {
			fmt.Fprintf(o.Log, " fitted on %d clouds a class (mean of %d draws)", p.Shots, ShotDraws)
		}
		if c.ProbeEvery > 1 {
			fmt.Fprintf(o.Log, " every %d epochs", c.ProbeEvery)
		}
		fmt.Fprintln(o.Log)
	}
	return p, nil
}
