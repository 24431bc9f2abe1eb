package pretrain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets/imagesets"
	"github.com/pcx-dev/pcx/images"
	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"go.yaml.in/yaml/v3"
)

// TaskImages is the task: of an image pretraining configuration
// (ImageConfig); a point-cloud one (Config) says "pretrain".
const TaskImages = "pretrain-images"

// ImageModelConfig sizes the image masked autoencoder (backbone.MAEConfig),
// under the names of MAE's models_mae.py.
type ImageModelConfig struct {
	ImageSize    int     `yaml:"img_size" json:"img_size"`
	PatchSize    int     `yaml:"patch_size" json:"patch_size"`
	InChans      int     `yaml:"in_chans" json:"in_chans"`
	Width        int     `yaml:"embed_dim" json:"embed_dim"`
	Depth        int     `yaml:"depth" json:"depth"`
	Heads        int     `yaml:"num_heads" json:"num_heads"`
	DecoderWidth int     `yaml:"decoder_embed_dim" json:"decoder_embed_dim"`
	DecoderDepth int     `yaml:"decoder_depth" json:"decoder_depth"`
	DecoderHeads int     `yaml:"decoder_num_heads" json:"decoder_num_heads"`
	MLPRatio     int     `yaml:"mlp_ratio" json:"mlp_ratio"`
	MaskRatio    float64 `yaml:"mask_ratio" json:"mask_ratio"`
	NormPixLoss  bool    `yaml:"norm_pix_loss" json:"norm_pix_loss"`
}

// Backbone is the model's configuration (LayerNorm ε 1e-6, MAE's and the
// fine-tuning ViT's).
func (m ImageModelConfig) Backbone() backbone.MAEConfig {
	return backbone.MAEConfig{ImageSize: m.ImageSize, PatchSize: m.PatchSize, InChans: m.InChans, Width: m.Width,
		Depth: m.Depth, Heads: m.Heads, DecoderWidth: m.DecoderWidth, DecoderDepth: m.DecoderDepth,
		DecoderHeads: m.DecoderHeads, MLPRatio: m.MLPRatio, Eps: 1e-6, MaskRatio: m.MaskRatio, NormPixLoss: m.NormPixLoss}
}

// ImageConfig is a whole image pretraining run: what RUN/config.yaml holds
// (task: pretrain-images).
type ImageConfig struct {
	// Version marks pcx's configuration files (1).
	Version int `yaml:"pcx" json:"pcx"`
	// Task is TaskImages.
	Task string `yaml:"task" json:"task"`
	// Kind is the data set kind: images (any folder of images, read
	// recursively), fashion-mnist or mnist (idx files), cifar.
	Kind string `yaml:"kind" json:"kind"`
	// Data is the data set's folder.
	Data string `yaml:"data" json:"data"`
	// Preset names the pretraining preset the model came from (for the
	// record; Model is what is built).
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty"`
	// TestFraction is the share of an image folder's files held out for
	// the test loss (idx and CIFAR hold out their test split instead).
	TestFraction float64 `yaml:"test_fraction" json:"test_fraction"`
	// TestImages caps the held-out images evaluated (0: all of them).
	TestImages int `yaml:"test_images" json:"test_images"`
	// Subset, when positive, pretrains on that many training images
	// picked by the seed.
	Subset int `yaml:"subset,omitempty" json:"subset,omitempty"`
	// TestLoss evaluates the reconstruction loss on the held-out images
	// every epoch.
	TestLoss bool             `yaml:"test_loss" json:"test_loss"`
	Model    ImageModelConfig `yaml:"model" json:"model"`
	Train    train.Config     `yaml:"train" json:"train"`

	// Probe is the labelled image set of the feature-quality probe: a
	// folder imagesets.Open reads (idx files, CIFAR, class folders, a
	// VTAB-1K task), ProbeSameData ("data") for the run's own data with
	// its labels, or "" for no probe. After each epoch a linear SVM is
	// fitted on the encoder's cls features of its training images and
	// scored on its test images (probe_svm_acc; see NewImageProbe).
	Probe string `yaml:"probe,omitempty" json:"probe,omitempty"`
	// ProbeTrain and ProbeTest are the numbers of the probe set's training
	// and test images used, picked by fixed seeds (0: ProbeTrainImages and
	// ProbeTestImages; all of a split when it has fewer).
	ProbeTrain int `yaml:"probe_train,omitempty" json:"probe_train,omitempty"`
	ProbeTest  int `yaml:"probe_test,omitempty" json:"probe_test,omitempty"`
	// ProbeEvery probes after every n-th epoch and after the last (0 or 1:
	// every epoch).
	ProbeEvery int `yaml:"probe_every,omitempty" json:"probe_every,omitempty"`
}

// ImageKinds are the data set kinds an image pretraining run reads.
var ImageKinds = []string{"images", "fashion-mnist", "mnist", "cifar"}

// ImageConfigFor is the configuration of pretraining preset (see
// presets.ImagePretrainModels) on a data set kind: the encoder is the
// preset's image model at the kind's image size (CIFAR's 32 for the
// vit-mini, as pcx train cifar uses it), the data the kind's default
// folder, 5% of a folder held out, at most 1,000 held-out images
// evaluated, the test loss on. The labelled kinds (fashion-mnist, mnist,
// cifar) probe their own data after each epoch: 1,000 training images
// (those pcx train --train-subset 1000 fine-tunes on) and 2,000 test
// images.
func ImageConfigFor(kind, preset string) (ImageConfig, error) {
	k, ok := presets.LookupImageDataKind(kind)
	if !ok || !isImageKind(kind) {
		return ImageConfig{}, fmt.Errorf("unknown image pretraining data kind %q (have %v)", kind, ImageKinds)
	}
	p, err := presets.LookupImagePretrainModel(preset)
	if err != nil {
		return ImageConfig{}, err
	}
	e, err := presets.LookupImageModel(p.Encoder)
	if err != nil {
		return ImageConfig{}, err
	}
	size := e.ImageSize
	if k.ImageSize > 0 && k.Preset == p.Encoder {
		size = k.ImageSize
	}
	c := ImageConfig{Version: 1, Task: TaskImages, Kind: kind, Data: k.Data, Preset: preset, TestFraction: 0.05,
		TestImages: 1000, TestLoss: true,
		Model: ImageModelConfig{ImageSize: size, PatchSize: e.PatchSize, InChans: 3, Width: e.Width, Depth: e.Depth,
			Heads: e.Heads, DecoderWidth: p.DecoderWidth, DecoderDepth: p.DecoderDepth, DecoderHeads: p.DecoderHeads,
			MLPRatio: e.MLPRatio, MaskRatio: p.MaskRatio, NormPixLoss: p.NormPixLoss},
		Train: p.Train}
	if kind != "images" {
		c.Probe, c.ProbeTrain, c.ProbeTest = ProbeSameData, ProbeTrainImages, ProbeTestImages
	}
	return c, nil
}

func isImageKind(k string) bool {
	for _, n := range ImageKinds {
		if n == k {
			return true
		}
	}
	return false
}

// Validate checks the configuration.
func (c ImageConfig) Validate() error {
	if c.Version != 1 {
		return fmt.Errorf("unknown pcx configuration version %d (want pcx: 1)", c.Version)
	}
	if c.Task != TaskImages {
		return fmt.Errorf("not an image pretraining configuration (task is %q, want %s)", c.Task, TaskImages)
	}
	if !isImageKind(c.Kind) {
		return fmt.Errorf("unknown image pretraining data kind %q (have %v)", c.Kind, ImageKinds)
	}
	if c.Data == "" {
		return fmt.Errorf("no data set folder (data:)")
	}
	if !(c.TestFraction >= 0 && c.TestFraction < 1) {
		return fmt.Errorf("test_fraction must lie in [0, 1) (got %g)", c.TestFraction)
	}
	if c.TestImages < 0 || c.Subset < 0 {
		return fmt.Errorf("test_images and subset must not be negative (got %d, %d)", c.TestImages, c.Subset)
	}
	m := c.Model
	switch {
	case m.InChans != 3:
		return fmt.Errorf("model: in_chans must be 3 (images are read as RGB; got %d)", m.InChans)
	case m.Width > 4096 || m.DecoderWidth > 4096 || m.Depth > 64 || m.DecoderDepth > 64 || m.ImageSize > 1024 || m.MLPRatio > 16:
		return fmt.Errorf("model: too large (embed_dim %d, decoder_embed_dim %d, depth %d, decoder_depth %d, img_size %d, mlp_ratio %d)",
			m.Width, m.DecoderWidth, m.Depth, m.DecoderDepth, m.ImageSize, m.MLPRatio)
	case !(m.MaskRatio > 0 && m.MaskRatio < 1):
		return fmt.Errorf("mask ratio must lie strictly between 0 and 1 (got %g)", m.MaskRatio)
	}
	if err := m.Backbone().Validate(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := c.Train.Validate(); err != nil {
		return err
	}
	return c.validateProbe()
}

// taskOf reads the task: key of a configuration file, whatever else it
// holds.
func taskOf(data []byte) string {
	var t struct {
		Task string `yaml:"task"`
	}
	_ = yaml.Unmarshal(data, &t)
	return t.Task
}

// ReadImageConfig reads an image pretraining configuration file (a run's
// config.yaml): unknown keys are errors, a point-cloud pretraining file is
// refused with a message saying so, and the result is validated.
func ReadImageConfig(path string) (ImageConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ImageConfig{}, err
	}
	if t := taskOf(data); t != TaskImages {
		if t == "pretrain" {
			return ImageConfig{}, fmt.Errorf("%s is a point-cloud pretraining configuration (task: pretrain), not an image one (task: %s); use it with pcx pretrain synth", path, TaskImages)
		}
		return ImageConfig{}, fmt.Errorf("%s: not an image pretraining configuration (task: %q, want %s)", path, t, TaskImages)
	}
	var c ImageConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return ImageConfig{}, fmt.Errorf("%s: %v", path, err)
	}
	if err := c.Validate(); err != nil {
		return ImageConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ImageCorpus is the unlabelled image set a run pretrains on: the images
// of Train (those listed in TrainIdx, or all) and the held-out images of
// Test (those in TestIdx, or all). Labels are never read.
type ImageCorpus struct {
	Name              string
	Train, Test       *imagesets.Split
	TrainIdx, TestIdx []int
}

func (d *ImageCorpus) split(s train.Split) (*imagesets.Split, []int) {
	if s == train.TrainSplit {
		return d.Train, d.TrainIdx
	}
	return d.Test, d.TestIdx
}

// Len is the number of images of a split in use.
func (d *ImageCorpus) Len(s train.Split) int {
	sp, idx := d.split(s)
	if idx != nil {
		return len(idx)
	}
	return sp.Len()
}

// Image is image i of a split in use.
func (d *ImageCorpus) Image(s train.Split, i int) (*images.Image, string, error) {
	sp, idx := d.split(s)
	if idx != nil {
		if i < 0 || i >= len(idx) {
			return nil, "", fmt.Errorf("%s image %d out of range [0, %d)", s, i, len(idx))
		}
		i = idx[i]
	}
	m, err := sp.Image(i)
	return m, sp.Name(i), err
}

// pick is n of total indices chosen by seed (in the chosen order).
func pick(n, total int, seed, salt uint64) []int {
	return rng.New(rng.Mix64(seed ^ salt)).Perm(total)[:n]
}

// LoadImages opens the run's images: a folder (every image under it, a
// share held out; see imagesets.OpenUnlabelled), idx files or CIFAR (their
// training split pretrained on, their test split held out), labels
// ignored. Subset picks the training images by the seed; TestImages
// caps the held-out ones, picked by a fixed seed so that every run of the
// data set evaluates the same.
func LoadImages(c ImageConfig) (*ImageCorpus, error) {
	var d *imagesets.Dataset
	var err error
	switch c.Kind {
	case "images":
		d, err = imagesets.OpenUnlabelled(c.Data, c.TestFraction, 0)
	case "fashion-mnist", "mnist":
		d, err = imagesets.OpenIDX(c.Data)
	case "cifar":
		d, err = imagesets.OpenCIFAR(c.Data)
	default:
		err = fmt.Errorf("unknown image pretraining data kind %q (have %v)", c.Kind, ImageKinds)
	}
	if err != nil {
		return nil, err
	}
	out := &ImageCorpus{Name: d.Name, Train: d.Train, Test: d.Test}
	if c.Subset > 0 {
		if c.Subset > d.Train.Len() {
			return nil, fmt.Errorf("%s: subset %d is more than the %d training images", c.Data, c.Subset, d.Train.Len())
		}
		out.TrainIdx = pick(c.Subset, d.Train.Len(), c.Train.Seed, 0x6d61657375627365)
	}
	if c.TestImages > 0 && d.Test.Len() > c.TestImages {
		out.TestIdx = pick(c.TestImages, d.Test.Len(), 0, 0x6d6165746573740a)
	}
	if out.Len(train.TrainSplit) == 0 {
		return nil, fmt.Errorf("%s: no training images", c.Data)
	}
	return out, nil
}

// PretrainTransform is MAE's main_pretrain.py training pipeline at size:
// RandomResizedCrop(size, scale=(0.2, 1.0), bicubic), a horizontal flip
// with probability one half and ImageNet normalisation; held-out images
// are resized (bicubic) and normalised.
func PretrainTransform(size int) images.Transform {
	return images.Transform{Size: size, Mean: images.ImageNetMean, Std: images.ImageNetStd, Augment: true,
		Scale: [2]float64{0.2, 1}, Flip: true}
}

// ImageTask is MAE pretraining as a train.Task: each batch of images is
// transformed (Transform: augmented in training), a share of each
// image's patches masked (the masks drawn from the batch's random stream
// with ViTMAE.DrawMask) and the model rebuilds them; the loss is MAE's
// mean squared error on the masked patches' (normalised) pixels. With
// UseTest the held-out images give test_loss.
type ImageTask struct {
	Model     *backbone.ViTMAE
	Data      *ImageCorpus
	Transform images.Transform
	UseTest   bool
	// Probing.SVM, when set, probes the encoder's features after each
	// epoch (or every SVM.Every epochs): probe_svm_acc (NewImageProbe).
	Probing
}

// ImageBatch is a batch of transformed images and the mask drawn for it.
type ImageBatch struct {
	Images *backbone.Images
	// Mask is B×L, true for a masked patch.
	Mask []bool
}

// Len is the number of images.
func (b *ImageBatch) Len() int { return b.Images.B }

// Params lists the whole model's parameters.
func (t *ImageTask) Params() nn.Params { return t.Model.Params() }

// Metrics: none beyond the loss.
func (t *ImageTask) Metrics() []train.Metric { return nil }

// Len is the number of images of a split (0 for the test split unless
// UseTest).
func (t *ImageTask) Len(s train.Split) int {
	if s == train.TestSplit && !t.UseTest {
		return 0
	}
	return t.Data.Len(s)
}

// Batch decodes and transforms the images idx and draws their masks from
// r.
func (t *ImageTask) Batch(s train.Split, idx []int, r *rand.Rand) (train.Batch, error) {
	if s == train.TestSplit && !t.UseTest {
		return nil, fmt.Errorf("pretrain: no test split")
	}
	size := t.Model.Cfg.ImageSize
	per := 3 * size * size
	im := &backbone.Images{B: len(idx), H: size, W: size, Pix: make([]float32, len(idx)*per)}
	tf := t.Transform
	tf.Size = size
	for k, i := range idx {
		img, name, err := t.Data.Image(s, i)
		if err != nil {
			return nil, err
		}
		if err := tf.Apply(img, s == train.TrainSplit, r, im.Pix[k*per:(k+1)*per]); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	mask, err := t.Model.DrawMask(len(idx), r)
	if err != nil {
		return nil, err
	}
	return &ImageBatch{Images: im, Mask: mask}, nil
}

// Step runs the model on a batch with its mask. A batch that Forward
// refuses cannot come from Batch, which sizes the images and the mask to
// the model; Step panics on one.
func (t *ImageTask) Step(tp *nn.Tape, b train.Batch, r *rand.Rand) train.Output {
	ib := b.(*ImageBatch)
	out, err := t.Model.Forward(tp, ib.Images, ib.Mask, r)
	if err != nil {
		panic(fmt.Sprintf("pretrain: %v", err))
	}
	return train.Output{Loss: out.Loss, Sums: []float64{}, Out: out.Pred}
}

// TrainImages pretrains an image masked autoencoder on data in dir, as
// Train does for point clouds: dir/config.yaml first (unless resuming),
// train's last and best checkpoints of the whole model (MAE's state-dict
// names) during the run, and dir/backbone.safetensors at its end: the
// encoder under timm's ViT names (ViTMAE.BackboneParams), which pcx train
// fashion-mnist|cifar|images|vtab --ckpt loads.
func TrainImages(ctx context.Context, c ImageConfig, data *ImageCorpus, dir string, o Options) (*train.Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m, err := backbone.NewViTMAE(c.Model.Backbone(), train.Stream(c.Train.Seed, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if !o.Resume && o.Primary() {
		if err := classify.WriteConfig(filepath.Join(dir, ConfigFile), c); err != nil {
			return nil, err
		}
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	task := &ImageTask{Model: m, Data: data, Transform: PretrainTransform(c.Model.ImageSize), UseTest: c.TestLoss}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "MAE pretraining on %s (%d training images", data.Name, task.Len(train.TrainSplit))
		if c.TestLoss {
			fmt.Fprintf(o.Log, ", %d held out", task.Len(train.TestSplit))
		}
		mc := c.Model.Backbone()
		fmt.Fprintf(o.Log, "): %d parameters, %d of %d patches masked, %d×%d images\n", m.Params().Count(),
			mc.NumMask(), mc.Patches(), mc.ImageSize, mc.ImageSize)
	}
	if c.probeDir() != "" {
		if task.SVM, err = newImageProbe(c, m, o); err != nil {
			return nil, err
		}
	}
	meta := map[string]string{MetaConfig: string(cj)}
	res, err := train.Run(ctx, task, c.Train, train.Options{Dir: dir, Resume: o.Resume, Log: o.Log, Progress: o.Progress,
		Meta: meta, Device: o.Device, AfterStep: o.AfterStep, Parallel: o.Parallel})
	if err != nil || !o.Primary() {
		return res, err
	}
	if err := SaveBackbone(filepath.Join(dir, BackboneFile), m.BackboneParams(), meta, o.Half); err != nil {
		return res, err
	}
	return res, WriteRun(dir, m, res)
}

// LoadImageModel builds c's model and loads a checkpoint of the whole
// model into it (a run's last.safetensors or best.safetensors).
func LoadImageModel(c ImageConfig, path string) (*backbone.ViTMAE, error) {
	m, err := backbone.NewViTMAE(c.Model.Backbone(), train.Stream(c.Train.Seed, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	if _, err := m.LoadWeights(path, backbone.LoadOptions{}); err != nil {
		return nil, err
	}
	return m, nil
}

// ImageReconstruction is one held-out image rebuilt by the model: the image as
// the model sees it, with its masked patches grey, the prediction of every
// patch, and the prediction with the visible patches pasted back; all
// un-normalised to 8-bit RGB.
type ImageReconstruction struct {
	Name                              string
	Original, Masked, Rebuilt, Pasted *images.Image
}

// StreamFigure is the random stream kind of the reconstruction figure's
// masks.
const StreamFigure = 0x66696775

// ReconstructImages rebuilds n images (the first n held-out images in use,
// followed by the first training images when fewer are held out) with
// masks drawn from a stream of seed, as at evaluation (resized and
// normalised, not augmented). With a loss on normalised pixels the predictions are
// de-normalised with each patch's own mean and standard deviation of the
// original, as MAE's visualisation does.
func ReconstructImages(m *backbone.ViTMAE, data *ImageCorpus, n int, seed uint64) ([]ImageReconstruction, error) {
	type ref struct {
		s train.Split
		i int
	}
	var refs []ref
	for _, s := range []train.Split{train.TestSplit, train.TrainSplit} {
		for i := 0; i < data.Len(s) && len(refs) < n; i++ {
			refs = append(refs, ref{s, i})
		}
	}
	n = len(refs)
	if n < 1 {
		return nil, fmt.Errorf("pretrain: no images to reconstruct")
	}
	cfg := m.Cfg
	size, p, l, pv := cfg.ImageSize, cfg.PatchSize, cfg.Patches(), cfg.PatchValues()
	per := 3 * size * size
	im := &backbone.Images{B: n, H: size, W: size, Pix: make([]float32, n*per)}
	tf := PretrainTransform(size)
	names := make([]string, n)
	for k, rf := range refs {
		img, name, err := data.Image(rf.s, rf.i)
		if err != nil {
			return nil, err
		}
		if err := tf.Apply(img, false, nil, im.Pix[k*per:(k+1)*per]); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		names[k] = name
	}
	mask, err := m.DrawMask(n, train.Stream(seed, StreamFigure, 0, 0))
	if err != nil {
		return nil, err
	}
	out, err := m.Forward(nn.NoGrad(), im, mask, nil)
	if err != nil {
		return nil, err
	}
	pred := out.Patches()
	orig := backbone.PatchifyMAE(im.Pix, n, 3, size, size, p)
	if cfg.NormPixLoss {
		for i := 0; i < n*l; i++ {
			o, q := orig[i*pv:(i+1)*pv], pred[i*pv:(i+1)*pv]
			var mean, ss float64
			for _, v := range o {
				mean += float64(v)
			}
			mean /= float64(pv)
			for _, v := range o {
				ss += (float64(v) - mean) * (float64(v) - mean)
			}
			sd := math.Sqrt(ss/float64(pv-1) + 1e-6)
			for j, v := range q {
				q[j] = float32(float64(v)*sd + mean)
			}
		}
	}
	res := make([]ImageReconstruction, n)
	for k := range res {
		po, pp := orig[k*l*pv:(k+1)*l*pv], pred[k*l*pv:(k+1)*l*pv]
		mk := mask[k*l : (k+1)*l]
		res[k] = ImageReconstruction{Name: names[k],
			Original: patchImage(po, po, nil, false, size, p),
			Masked:   patchImage(po, po, mk, true, size, p),
			Rebuilt:  patchImage(pp, pp, nil, false, size, p),
			Pasted:   patchImage(po, pp, mk, false, size, p)}
	}
	return res, nil
}

// patchImage un-patchifies an image's patches (MAE's patchify layout,
// ImageNet-normalised) to RGB: a masked patch is taken from masked (or
// grey when grey), the others from visible.
func patchImage(visible, masked []float32, mask []bool, grey bool, size, p int) *images.Image {
	g := size / p
	pv := p * p * 3
	img := images.New(size, size)
	for j := 0; j < g*g; j++ {
		src := visible
		hidden := mask != nil && mask[j]
		if hidden {
			src = masked
		}
		py, px := j/g, j%g
		for y := 0; y < p; y++ {
			for x := 0; x < p; x++ {
				for c := 0; c < 3; c++ {
					var v uint8 = 128
					if !(hidden && grey) {
						f := float64(src[j*pv+(y*p+x)*3+c])*float64(images.ImageNetStd[c]) + float64(images.ImageNetMean[c])
						v = uint8(math.Round(255 * math.Max(0, math.Min(1, f))))
					}
					img.Pix[3*((py*p+y)*size+px*p+x)+c] = v
				}
			}
		}
	}
	return img
}
