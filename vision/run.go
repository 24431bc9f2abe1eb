package vision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets/imagesets"
	"github.com/pcx-dev/pcx/images"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"go.yaml.in/yaml/v3"
)

// Modality is the value of classify.MetaModality in an image model's
// checkpoint.
const Modality = "images"

// Config describes a whole image run; RUN/config.yaml holds it and every
// checkpoint carries it.
type Config struct {
	// Version marks pcx's own configuration files (1).
	Version int `yaml:"pcx" json:"pcx"`
	// Kind is the image data set kind (presets.ImageDataKinds: vtab,
	// images, fashion-mnist, mnist, cifar).
	Kind string `yaml:"kind" json:"kind"`
	// Data is the data set's directory.
	Data string `yaml:"data" json:"data"`
	// Task is the VTAB-1K task (kind vtab).
	Task string `yaml:"task,omitempty" json:"task,omitempty"`
	// Val, for a VTAB task, trains on train800 and tests on val200
	// instead of the final protocol (train800val200, test).
	Val bool `yaml:"val,omitempty" json:"val,omitempty"`
	// TestFraction splits an image folder without train/test
	// subfolders (0: 0.2).
	TestFraction float64 `yaml:"test_fraction,omitempty" json:"test_fraction,omitempty"`
	// TrainSubset, when positive, trains on that many training samples
	// picked by the seed (1000: the size of VTAB-1K's training set).
	TrainSubset int `yaml:"train_subset,omitempty" json:"train_subset,omitempty"`
	// Normalize is "imagenet" (NOAH: ImageNet mean and std) or "none"
	// (ToTensor only, as Bi-AdaptFormer).
	Normalize string `yaml:"normalize" json:"normalize"`
	// Augment adds random resized crops and flips in training (off for
	// VTAB).
	Augment bool `yaml:"augment,omitempty" json:"augment,omitempty"`
	// Ckpt is the pretrained checkpoint (ViT .npz, timm or MAE .pth,
	// .safetensors); empty means random initialisation.
	Ckpt        string       `yaml:"ckpt,omitempty" json:"ckpt,omitempty"`
	PartialLoad bool         `yaml:"partial_load,omitempty" json:"partial_load,omitempty"`
	Model       ModelConfig  `yaml:"model" json:"model"`
	Train       train.Config `yaml:"train" json:"train"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, ok := presets.LookupImageDataKind(c.Kind); !ok {
		return fmt.Errorf("unknown image data set kind %s", state.Quote(c.Kind))
	}
	if c.Normalize != "imagenet" && c.Normalize != "none" {
		return fmt.Errorf("normalize must be imagenet or none (got %s)", state.Quote(c.Normalize))
	}
	if c.TestFraction < 0 || c.TestFraction >= 1 || c.TrainSubset < 0 {
		return fmt.Errorf("test_fraction must be in [0, 1) and train_subset not negative")
	}
	if c.Kind == "vtab" && c.Task == "" {
		return fmt.Errorf("a VTAB run needs its task (--task, one of the 19)")
	}
	if err := c.Train.Validate(); err != nil {
		return err
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	return c.Model.CheckBatch("training", c.Train.BatchSize, int64(max(c.Train.Workers, 2)))
}

// transform is the run's image transform.
func (c Config) transform() images.Transform {
	t := images.Transform{Size: c.Model.ImageSize, Std: [3]float32{1, 1, 1}, Augment: c.Augment, Scale: [2]float64{0.08, 1}, Flip: true}
	if c.Normalize == "imagenet" {
		t.Mean, t.Std = images.ImageNetMean, images.ImageNetStd
	}
	return t
}

// LoadData opens the run's data set.
func LoadData(c Config) (*imagesets.Dataset, error) {
	switch c.Kind {
	case "vtab":
		return imagesets.OpenVTAB(c.Data, c.Task, !c.Val)
	case "images":
		f := c.TestFraction
		if f == 0 {
			f = 0.2
		}
		return imagesets.OpenFolder(c.Data, f, c.Train.Seed)
	case "fashion-mnist", "mnist":
		return imagesets.OpenIDX(c.Data)
	case "cifar":
		return imagesets.OpenCIFAR(c.Data)
	}
	return nil, fmt.Errorf("unknown image data set kind %s", state.Quote(c.Kind))
}

// Build makes the model of c, initialised from the training seed, and
// loads the pretrained checkpoint if one is named; the load report goes
// to log.
func Build(c Config, log io.Writer) (*Model, error) {
	m, err := NewModel(c.Model, train.Stream(c.Train.Seed, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	if c.Ckpt != "" {
		ld, err := backbone.LoadViTCheckpoint(c.Ckpt, m.Params(), backbone.LoadOptions{Partial: c.PartialLoad})
		if err != nil {
			return nil, err
		}
		if log != nil {
			fmt.Fprintf(log, "loaded %s\n%s", c.Ckpt, ld.Report)
			if ld.Resampled != "" {
				fmt.Fprintln(log, ld.Resampled)
			}
		}
	}
	return m, nil
}

// RunOptions say how a run executes (none changes a result).
type RunOptions struct {
	Resume        bool
	Log, Progress io.Writer
	Device        nn.Device
	// Parallel makes the run one rank of a data-parallel run.
	train.Parallel
}

// Train runs c on data in dir.
func Train(ctx context.Context, c Config, data *imagesets.Dataset, dir string, ro RunOptions) (*train.Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Model.Classes != len(data.Classes) {
		return nil, fmt.Errorf("%s has %d classes, the model %d", c.Data, len(data.Classes), c.Model.Classes)
	}
	sub, err := train.Subset(c.TrainSubset, data.Train.Len(), c.Train.Seed)
	if err != nil {
		return nil, err
	}
	built := c
	if ro.Resume {
		built.Ckpt = ""
	}
	m, err := Build(built, ro.Log)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if !ro.Resume && ro.Primary() {
		if err := classify.WriteConfig(filepath.Join(dir, classify.ConfigFile), c); err != nil {
			return nil, err
		}
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	classes, _ := json.Marshal(data.Classes)
	task := &Task{Model: m, Data: data, Transform: c.transform(), TrainIdx: sub}
	if ro.Log != nil {
		tun := m.Params().Trainable().Count()
		head := m.Net.Head.Params().Count()
		fmt.Fprintf(ro.Log, "%s on %s (%d classes, %d train / %d test, %d×%d): preset %s, %d of %d parameters tunable (%.2f%%; %d without the head)\n",
			c.Model.Method, data.Name, len(data.Classes), task.Len(train.TrainSplit), data.Test.Len(), c.Model.ImageSize, c.Model.ImageSize,
			c.Model.Preset, tun, m.Params().Count(), 100*float64(tun)/float64(m.Params().Count()), tun-head)
	}
	meta := map[string]string{classify.MetaConfig: string(cj), classify.MetaClasses: string(classes), classify.MetaModality: Modality}
	opt := train.Options{Dir: dir, Resume: ro.Resume, Log: ro.Log, Progress: ro.Progress, Meta: meta, Device: ro.Device, Parallel: ro.Parallel}
	return train.Run(ctx, task, c.Train, opt)
}

// ReadConfigFile reads an image run's config.yaml; unknown keys are an
// error naming the file.
func ReadConfigFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %v", path, err)
	}
	if c.Version != 1 {
		return Config{}, fmt.Errorf("%s: not a pcx run configuration (no \"pcx: 1\")", path)
	}
	return c, nil
}

// Trained is an image model loaded from a pcx checkpoint.
type Trained struct {
	Path    string
	Model   *Model
	Config  Config
	Classes []string
}

// IsCheckpoint reports whether path is a pcx checkpoint of an image model.
func IsCheckpoint(path string) bool {
	if f, err := state.Sniff(path); err != nil || f != state.FormatSafetensors {
		return false
	}
	meta, err := state.ReadSafetensorsMeta(path)
	return err == nil && meta[classify.MetaModality] == Modality
}

// LoadCheckpoint rebuilds the model an image training checkpoint was
// written by and loads its weights.
func LoadCheckpoint(path string) (*Trained, error) {
	d, err := state.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	if d.Meta[classify.MetaModality] != Modality {
		return nil, fmt.Errorf("%s: not an image model's pcx checkpoint", path)
	}
	var c Config
	if err := json.Unmarshal([]byte(d.Meta[classify.MetaConfig]), &c); err != nil {
		return nil, fmt.Errorf("%s: no readable %q metadata: %v", path, classify.MetaConfig, err)
	}
	var classes []string
	if err := json.Unmarshal([]byte(d.Meta[classify.MetaClasses]), &classes); err != nil || len(classes) != c.Model.Classes {
		return nil, fmt.Errorf("%s: the class names in its metadata do not match its %d classes", path, c.Model.Classes)
	}
	c.Ckpt = ""
	m, err := NewModel(c.Model, train.Stream(c.Train.Seed, 0, 0, 0))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rep, err := checkpoint.LoadDict(d, m.Params())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rep.Missing) > 0 {
		return nil, fmt.Errorf("%s: lacks %d of the model's parameters (first: %s)", path, len(rep.Missing), rep.Missing[0])
	}
	return &Trained{Path: path, Model: m, Config: c, Classes: classes}, nil
}
