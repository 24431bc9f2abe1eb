package pretrain

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/train"
)

// ImageTask probes, showing its progress.
var _ train.ShowingProber = (*ImageTask)(nil)

// TestImagePretrainProbe: a run probing its own labelled images records
// probe_svm_acc every epoch (every second one with probe_every 2, and the
// last), and its weights are bit for bit those of the run without the
// probe.
func TestImagePretrainProbe(t *testing.T) {
	dir := imageDir(t, 24) // class folders a and b
	c := tinyImages(dir, 3)
	corpus, err := LoadImages(c)
	if err != nil {
		t.Fatal(err)
	}
	plain := t.TempDir()
	if _, err := TrainImages(context.Background(), c, corpus, plain, Options{}); err != nil {
		t.Fatal(err)
	}
	c.Probe, c.ProbeEvery = ProbeSameData, 2
	var log strings.Builder
	probed := t.TempDir()
	res, err := TrainImages(context.Background(), c, corpus, probed, Options{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "probe: a linear SVM on the encoder's cls features of") {
		t.Errorf("the log does not say what is probed:\n%s", log.String())
	}
	for i, m := range res.Epochs {
		v, ok := m.Get("probe_svm_acc")
		if want := i != 0; ok != want || ok && !(v >= 0 && v <= 1) {
			t.Errorf("epoch %d: probe_svm_acc %v (%v), want one: %v", m.Epoch, v, ok, want)
		}
	}
	a, err := LoadImageModel(c, filepath.Join(plain, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadImageModel(c, filepath.Join(probed, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := a.Params(), b.Params()
	for i := range pa {
		x, y := pa[i].Tensor.Host(), pb[i].Tensor.Host()
		for j := range x {
			if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
				t.Fatalf("%s[%d]: %g with the probe, %g without", pa[i].Name, j, y[j], x[j])
			}
		}
	}
}

// TestImageProbe: the probe's features are the final norm's cls token of
// each resized, normalised image; its work is every probe image, counted
// as they are encoded; a set of one class is refused.
func TestImageProbe(t *testing.T) {
	c := tinyImages(imageDir(t, 24), 1)
	c.Probe, c.ProbeTrain, c.ProbeTest = ProbeSameData, 11, 3
	d, err := LoadImageProbeData(c)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len(train.TrainSplit) != 11 || d.Len(train.TestSplit) > 3 {
		t.Fatalf("%d training and %d test images, want 11 and at most 3", d.Len(train.TrainSplit), d.Len(train.TestSplit))
	}
	m, err := backbone.NewViTMAE(c.Model.Backbone(), train.Stream(1, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewImageProbe(m, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	task := &ImageTask{Model: m, Probing: Probing{SVM: p}}
	done := 0
	vals, err := task.ProbeShowing(context.Background(), nil, func(n int) { done += n })
	if err != nil || len(vals) != 1 || done != task.ProbeWork() || done != d.Len(train.TrainSplit)+d.Len(train.TestSplit) {
		t.Errorf("probe %v, %v; %d images counted of %d", vals, err, done, task.ProbeWork())
	}
	f := &ImageFeatures{Model: m, Data: d, Batch: 4}
	feats, err := f.Features(context.Background(), train.TestSplit)
	if err != nil {
		t.Fatal(err)
	}
	// The first test image by hand.
	img, _, err := d.Image(train.TestSplit, 0)
	if err != nil {
		t.Fatal(err)
	}
	size := c.Model.ImageSize
	im := &backbone.Images{B: 1, H: size, W: size, Pix: make([]float32, 3*size*size)}
	if err := PretrainTransform(size).Apply(img, false, nil, im.Pix); err != nil {
		t.Fatal(err)
	}
	tok, err := m.Encode(nn.NoGrad(), im)
	if err != nil {
		t.Fatal(err)
	}
	want := tok.Host()[:c.Model.Width]
	for j, v := range want {
		if math.Abs(float64(feats[j]-v)) > 1e-6 {
			t.Fatalf("feature %d: %g, want %g", j, feats[j], v)
		}
	}
	if len(feats) != d.Len(train.TestSplit)*c.Model.Width {
		t.Errorf("%d features, want %d", len(feats), d.Len(train.TestSplit)*c.Model.Width)
	}
	one := *d
	one.TrainIdx = nil
	for i, l := range d.Train.Labels {
		if l == d.Train.Labels[0] {
			one.TrainIdx = append(one.TrainIdx, i)
		}
	}
	if _, err := NewImageProbe(m, &one, 0); err == nil || !strings.Contains(err.Error(), "one class") {
		t.Errorf("a set of one class: %v", err)
	}
}

// TestImageProbeConfig: the labelled kinds probe their own data by
// default, an image folder does not, and bad probe settings are refused.
func TestImageProbeConfig(t *testing.T) {
	for _, k := range []string{"fashion-mnist", "mnist", "cifar"} {
		c, err := ImageConfigFor(k, "vit-mini")
		if err != nil || c.Probe != ProbeSameData || c.ProbeTrain != 1000 || c.ProbeTest != 2000 {
			t.Errorf("%s: probe %q %d %d, %v", k, c.Probe, c.ProbeTrain, c.ProbeTest, err)
		}
	}
	c, _ := ImageConfigFor("images", "vit-mini")
	if c.Probe != "" {
		t.Errorf("images: probe %q", c.Probe)
	}
	c.Data = "x"
	for _, tc := range []struct {
		edit func(*ImageConfig)
		want string
	}{
		{func(c *ImageConfig) { c.ProbeEvery = 2 }, "need a probe data set"},
		{func(c *ImageConfig) { c.Probe, c.ProbeTrain = "data", -1 }, "must not be negative"},
		{func(c *ImageConfig) { c.Train.Best = "probe_svm_acc" }, "probe_svm_acc"},
	} {
		cc := c
		tc.edit(&cc)
		if err := cc.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.want, err)
		}
	}
	cc := c
	cc.Probe, cc.Train.Best = "data", "probe_svm_acc"
	if err := cc.Validate(); err != nil {
		t.Errorf("best by the probe: %v", err)
	}
}
