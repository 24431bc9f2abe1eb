package pretrain

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
)

// imageDir writes n 8×8 PNGs of smooth colour ramps (so that the masked
// patches can be predicted from the visible ones) into a folder tree.
func imageDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	for k := 0; k < n; k++ {
		sub := filepath.Join(dir, []string{"a", "b/c"}[k%2])
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		m := image.NewNRGBA(image.Rect(0, 0, 8, 8))
		base, dx, dy := r.IntN(100), r.IntN(20), r.IntN(20)
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				v := uint8(base + dx*x + dy*y)
				m.Pix[4*(y*8+x)], m.Pix[4*(y*8+x)+1], m.Pix[4*(y*8+x)+2], m.Pix[4*(y*8+x)+3] = v, 255-v, v/2, 255
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, string(rune('a'+k))+".png"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tinyImages is a small image pretraining run on dir.
func tinyImages(dir string, epochs int) ImageConfig {
	c, err := ImageConfigFor("images", "vit-mini")
	if err != nil {
		panic(err)
	}
	c.Data, c.TestFraction = dir, 0.2
	c.Model = ImageModelConfig{ImageSize: 8, PatchSize: 4, InChans: 3, Width: 12, Depth: 2, Heads: 3, DecoderWidth: 8,
		DecoderDepth: 1, DecoderHeads: 2, MLPRatio: 4, MaskRatio: 0.5, NormPixLoss: true}
	c.Train.Epochs, c.Train.BatchSize, c.Train.WarmupEpochs, c.Train.LR, c.Train.Seed, c.Train.Workers = epochs, 4, 1, 1e-2, 7, 2
	c.Train.EvalBatch = 8
	return c
}

// TestImagePretrain: the reconstruction loss falls over a few epochs, the
// run repeats bit for bit, an interrupted run resumes to the same epochs
// and files, and backbone.safetensors loads into the fine-tuning ViT with
// every backbone weight.
func TestImagePretrain(t *testing.T) {
	data := imageDir(t, 20)
	c := tinyImages(data, 6)
	corpus, err := LoadImages(c)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := corpus.Len(train.TrainSplit), corpus.Len(train.TestSplit); a != 16 || b != 4 {
		t.Fatalf("%d training and %d held-out images, want 16 and 4", a, b)
	}
	dir := t.TempDir()
	res, err := TrainImages(context.Background(), c, corpus, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := res.Epochs[0].Get("train_loss")
	last, _ := res.Epochs[len(res.Epochs)-1].Get("train_loss")
	if !(last < 0.8*first) {
		t.Errorf("train loss %.4f → %.4f, want it to fall", first, last)
	}
	if _, ok := res.Epochs[0].Get("test_loss"); !ok || res.Metric != "train_loss" {
		t.Errorf("metrics %v, best by %s", res.Epochs[0].Names(), res.Metric)
	}
	got, err := ReadImageConfig(filepath.Join(dir, ConfigFile))
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("config.yaml reads back %+v, %v", got, err)
	}
	if _, err := ReadConfig(filepath.Join(dir, ConfigFile)); err == nil || !strings.Contains(err.Error(), "image pretraining configuration") {
		t.Errorf("ReadConfig of an image configuration: %v", err)
	}

	// The same run again: bit for bit.
	dir2 := t.TempDir()
	res2, err := TrainImages(context.Background(), c, corpus, dir2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := strip(res.Epochs), strip(res2.Epochs); !reflect.DeepEqual(a, b) {
		t.Errorf("repeated run:\n%+v\nwant\n%+v", b, a)
	}
	for _, f := range []string{train.LastFile, BackboneFile, OfficialFile} {
		if !bytes.Equal(read(t, filepath.Join(dir, f)), read(t, filepath.Join(dir2, f))) {
			t.Errorf("%s differs between two runs", f)
		}
	}

	// Interrupted in epoch 3 and resumed: the same.
	dir3 := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = TrainImages(ctx, c, corpus, dir3, Options{AfterStep: func(e, b int) {
		if e == 2 && b == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir3, BackboneFile)); err == nil {
		t.Errorf("an interrupted run wrote %s", BackboneFile)
	}
	res3, err := TrainImages(context.Background(), c, corpus, dir3, Options{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := strip(res.Epochs), strip(res3.Epochs); !reflect.DeepEqual(a, b) {
		t.Errorf("resumed run:\n%+v\nwant\n%+v", b, a)
	}
	if !bytes.Equal(read(t, filepath.Join(dir, BackboneFile)), read(t, filepath.Join(dir3, BackboneFile))) {
		t.Errorf("%s differs after resuming", BackboneFile)
	}

	// The backbone loads into the fine-tuning ViT, all of it.
	m, err := LoadImageModel(c, filepath.Join(dir, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{}
	for _, p := range m.BackboneParams() {
		want[p.Name] = p.Data
	}
	vit, err := backbone.NewViT(c.Model.Backbone().Encoder(10), train.Stream(99, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backbone.LoadViTWeights(filepath.Join(dir, BackboneFile), vit.Params(), backbone.LoadOptions{}); err != nil {
		t.Fatalf("%s into the ViT: %v", BackboneFile, err)
	}
	n := 0
	for _, p := range vit.Params() {
		if w, ok := want[p.Name]; ok {
			n++
			if !reflect.DeepEqual(p.Data, w) {
				t.Errorf("%s is not the pretrained weight", p.Name)
			}
		}
	}
	if n != len(want) {
		t.Errorf("%d of the %d backbone weights matched by name", n, len(want))
	}

	// Reconstructions: the four held-out images and two training ones,
	// the masked input grey where masked, the pasted one the original
	// where visible.
	recs, err := ReconstructImages(m, corpus, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 {
		t.Fatalf("%d reconstructions, want 6", len(recs))
	}
	if _, name, _ := corpus.Image(train.TestSplit, 0); recs[0].Name != name {
		t.Errorf("the first reconstruction is of %s, not the first held-out image %s", recs[0].Name, name)
	}
	for _, r := range recs {
		grey, same := 0, 0
		for i := range r.Original.Pix {
			if r.Masked.Pix[i] == 128 {
				grey++
			}
			if r.Pasted.Pix[i] == r.Original.Pix[i] {
				same++
			}
		}
		if grey < 2*16*3 || same < 2*16*3 {
			t.Errorf("%s: %d grey values in the masked input, %d of the original in the pasted image (want ≥ 96 each)", r.Name, grey, same)
		}
		if bytes.Equal(r.Rebuilt.Pix, r.Original.Pix) {
			t.Errorf("%s: the reconstruction is the original", r.Name)
		}
	}
}

// TestImageConfig: the presets, the data kinds and the refusals.
func TestImageConfig(t *testing.T) {
	c, err := ImageConfigFor("fashion-mnist", "vit-mini")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	e, _ := presets.LookupImageModel("vit-mini")
	m := c.Model
	if m.ImageSize != e.ImageSize || m.PatchSize != e.PatchSize || m.Width != e.Width || m.Depth != e.Depth || m.Heads != e.Heads ||
		m.MLPRatio != e.MLPRatio || m.DecoderWidth != 128 || m.DecoderDepth != 2 || m.DecoderHeads != 4 || m.MaskRatio != 0.75 || !m.NormPixLoss {
		t.Errorf("vit-mini MAE %+v, vit-mini preset %+v", m, e)
	}
	if c.Data != "/usr/share/datasets/fashion-mnist" {
		t.Errorf("fashion-mnist's data %q", c.Data)
	}
	if cc, _ := ImageConfigFor("cifar", "vit-mini"); cc.Model.ImageSize != 32 {
		t.Errorf("cifar's vit-mini MAE at %d pixels, want pcx train cifar's 32", cc.Model.ImageSize)
	}
	b, err := ImageConfigFor("images", "mae-base")
	if err != nil {
		t.Fatal(err)
	}
	bc := backbone.MAEBaseConfig()
	if got := b.Model.Backbone(); got != bc {
		t.Errorf("mae-base %+v, want MAE's %+v", got, bc)
	}
	if _, err := ImageConfigFor("vtab", "vit-mini"); err == nil {
		t.Error("vtab as a pretraining kind: no error")
	}
	if _, err := ImageConfigFor("images", "nope"); err == nil {
		t.Error("unknown preset: no error")
	}
	for _, tc := range []struct {
		edit func(*ImageConfig)
		want string
	}{
		{func(c *ImageConfig) { c.Task = "pretrain" }, "not an image pretraining"},
		{func(c *ImageConfig) { c.Model.MaskRatio = 1 }, "mask ratio"},
		{func(c *ImageConfig) { c.Model.MaskRatio = 0.99 }, "masks 49 of 49"},
		{func(c *ImageConfig) { c.Model.PatchSize = 5 }, "patches"},
		{func(c *ImageConfig) { c.Model.InChans = 1 }, "in_chans"},
		{func(c *ImageConfig) { c.Model.Width = 1 << 20 }, "too large"},
		{func(c *ImageConfig) { c.TestFraction = 1 }, "test_fraction"},
		{func(c *ImageConfig) { c.Subset = -1 }, "subset"},
		{func(c *ImageConfig) { c.Data = "" }, "data"},
		{func(c *ImageConfig) { c.Train.Epochs = 0 }, "epochs"},
	} {
		cc := c
		tc.edit(&cc)
		if err := cc.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.want, err)
		}
	}
	// A point-cloud configuration is not an image one, and a misspelt key
	// is an error.
	dir := t.TempDir()
	pc := filepath.Join(dir, "pc.yaml")
	os.WriteFile(pc, []byte("pcx: 1\ntask: pretrain\ndata: synth\n"), 0o644)
	if _, err := ReadImageConfig(pc); err == nil || !strings.Contains(err.Error(), "point-cloud pretraining configuration") {
		t.Errorf("ReadImageConfig of a point-cloud file: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("pcx: 1\ntask: pretrain-images\nkind: images\ndata: x\nmodle: {}\n"), 0o644)
	if _, err := ReadImageConfig(bad); err == nil || !strings.Contains(err.Error(), "modle") {
		t.Errorf("misspelt key: %v", err)
	}
}

// TestLoadImagesSubset: --subset picks that many training images by the
// seed, the held-out images are capped, and too large a subset is refused.
func TestLoadImagesSubset(t *testing.T) {
	c := tinyImages(imageDir(t, 20), 1)
	c.Subset, c.TestImages = 5, 3
	d, err := LoadImages(c)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len(train.TrainSplit) != 5 || d.Len(train.TestSplit) != 3 {
		t.Errorf("%d training and %d held-out images, want 5 and 3", d.Len(train.TrainSplit), d.Len(train.TestSplit))
	}
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		_, name, err := d.Image(train.TrainSplit, i)
		if err != nil || seen[name] {
			t.Errorf("image %d: %s, %v", i, name, err)
		}
		seen[name] = true
	}
	c.Subset = 17
	if _, err := LoadImages(c); err == nil || !strings.Contains(err.Error(), "subset 17") {
		t.Errorf("subset beyond the data: %v", err)
	}
}
