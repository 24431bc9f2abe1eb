package pretrain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"go.yaml.in/yaml/v3"
)

// Files of a pretraining run directory.
const (
	// ConfigFile is the resolved configuration.
	ConfigFile = "config.yaml"
	// BackboneFile is the encoder under the fine-tuning model's names,
	// written when the run ends (pcx train --ckpt loads it).
	BackboneFile = "backbone.safetensors"
	// MetaConfig is the checkpoints' metadata key holding Config as JSON.
	MetaConfig = "pcx_pretrain_config"
)

// ModelConfig sizes the pretraining model (backbone.PretrainConfig).
type ModelConfig struct {
	TransDim     int     `yaml:"trans_dim" json:"trans_dim"`
	Depth        int     `yaml:"depth" json:"depth"`
	Heads        int     `yaml:"num_heads" json:"num_heads"`
	DecoderDepth int     `yaml:"decoder_depth" json:"decoder_depth"`
	DecoderHeads int     `yaml:"decoder_num_heads" json:"decoder_num_heads"`
	NumGroup     int     `yaml:"num_group" json:"num_group"`
	GroupSize    int     `yaml:"group_size" json:"group_size"`
	NPoints      int     `yaml:"npoints" json:"npoints"`
	MaskRatio    float64 `yaml:"mask_ratio" json:"mask_ratio"`
	MaskType     string  `yaml:"mask_type" json:"mask_type"`
	DropPath     float32 `yaml:"drop_path_rate" json:"drop_path_rate"`
}

// Backbone is the backbone's configuration of m.
func (m ModelConfig) Backbone() backbone.PretrainConfig {
	return backbone.PretrainConfig{TransDim: m.TransDim, Depth: m.Depth, Heads: m.Heads, DecoderDepth: m.DecoderDepth,
		DecoderHeads: m.DecoderHeads, NumGroup: m.NumGroup, GroupSize: m.GroupSize, NPoints: m.NPoints,
		MaskRatio: m.MaskRatio, MaskType: m.MaskType, DropPath: m.DropPath}
}

// Config is a whole pretraining run: what RUN/config.yaml holds.
type Config struct {
	// Version marks pcx's configuration files (1).
	Version int `yaml:"pcx" json:"pcx"`
	// Task is "pretrain" (telling this file from a fine-tuning one).
	Task string `yaml:"task" json:"task"`
	// Data is the data set spec (synth, npy:DIR, ...; see datasets.Open).
	Data    string `yaml:"data" json:"data"`
	Variant string `yaml:"variant,omitempty" json:"variant,omitempty"`
	// DataPoints is the number of points loaded per sample (0: the data
	// set's default).
	DataPoints int `yaml:"data_points,omitempty" json:"data_points,omitempty"`
	// DataSeed seeds the data set's generation or sampling (synth's clouds,
	// mesh sampling); a pretraining corpus drawn with another seed than
	// the fine-tuning data's (0) holds other shapes.
	DataSeed uint64 `yaml:"data_seed,omitempty" json:"data_seed,omitempty"`
	// SynthTrain is the number of synth training clouds per class (0:
	// synth's 80).
	SynthTrain int `yaml:"synth_train,omitempty" json:"synth_train,omitempty"`
	// HoldOut is the share of an unlabelled folder's files held out as the
	// test split (0: datasets.DefaultHoldOut; negative: none).
	HoldOut float64 `yaml:"hold_out,omitempty" json:"hold_out,omitempty"`
	// TestLoss evaluates the reconstruction loss on the test split.
	TestLoss bool `yaml:"test_loss" json:"test_loss"`
	// Init, when set, starts from a pretraining checkpoint's weights
	// (Point-MAE's official pretrain.pth, a pcx run's pretrain.pth or its
	// last.safetensors) instead of random ones: pretraining continues.
	Init  string       `yaml:"init,omitempty" json:"init,omitempty"`
	Model ModelConfig  `yaml:"model" json:"model"`
	Train train.Config `yaml:"train" json:"train"`

	// Probe is the labelled data set of the feature-quality probe, a spec
	// as Data (synth: synth's fine-tuning set, seed 0; modelnet40:PATH...;
	// "": no probe): after each epoch a linear SVM is fitted on the
	// encoder's features of its training clouds and scored on its test
	// clouds (probe_svm_acc; see SVMProbe).
	Probe string `yaml:"probe,omitempty" json:"probe,omitempty"`
	// ProbeVariant is the probe data's variant (a synth or ScanObjectNN
	// variant).
	ProbeVariant string `yaml:"probe_variant,omitempty" json:"probe_variant,omitempty"`
	// ProbeEvery probes after every n-th epoch and after the last (0 or 1:
	// every epoch).
	ProbeEvery int `yaml:"probe_every,omitempty" json:"probe_every,omitempty"`
	// ProbeShots, when positive, fits the probe's SVM on that many
	// training clouds of each class (FeatureProbe.Shots; 0: all of them).
	ProbeShots int `yaml:"probe_shots,omitempty" json:"probe_shots,omitempty"`
}

// FromPreset is the model of a pretraining preset (presets.PretrainModel)
// and its schedule.
func FromPreset(name string) (ModelConfig, train.Config, error) {
	p, err := presets.LookupPretrainModel(name)
	if err != nil {
		return ModelConfig{}, train.Config{}, err
	}
	return ModelConfig{TransDim: p.TransDim, Depth: p.Depth, Heads: p.Heads, DecoderDepth: p.DecoderDepth,
		DecoderHeads: p.DecoderHeads, NumGroup: p.Groups, GroupSize: p.GroupSize, NPoints: p.Points,
		MaskRatio: p.MaskRatio, MaskType: p.MaskType, DropPath: p.DropPath}, p.Train, nil
}

// SynthModel is the pretraining model for pcx's synth data set (the synth
// pretraining preset): the synth fine-tuning preset's encoder (192 wide, 6
// blocks of 3 heads, 32 groups of 16 from 1024 points) with a 2-block
// decoder, 60% of the groups masked at random, drop-path 0.1.
func SynthModel() ModelConfig {
	m, _, err := FromPreset("synth")
	if err != nil {
		panic(err) // the built-in table lacks its synth preset
	}
	return m
}

// PointMAEModel is Point-MAE's own pretraining model (cfgs/pretrain.yaml).
func PointMAEModel() ModelConfig {
	m, _, err := FromPreset("pointmae")
	if err != nil {
		panic(err)
	}
	return m
}

// SynthSchedule is pcx pretrain synth's schedule (the synth pretraining
// preset's): 20 epochs of batch 32, AdamW at 1e-3 with weight decay 0.05,
// 2 warm-up epochs, cosine per step, the gradient clipped at 10,
// best.safetensors by the training loss.
func SynthSchedule() train.Config {
	_, t, err := FromPreset("synth")
	if err != nil {
		panic(err)
	}
	return t
}

// SynthConfig is pcx pretrain synth's whole configuration: the synth
// preset on a corpus of synth's clean clouds other than those pcx train
// synth fine-tunes and tests on (data seed 1, 256 clouds per class: 4,096),
// probed every epoch on the clouds pcx train synth --variant hardest
// fine-tunes and tests on (synth hardest, seed 0: 1,280 and 320; on the
// clean variant even a random encoder's features score about 98%), the SVM
// fitted on 10 clouds a class: with all 80 a class, an SVM separates a
// random encoder's features about as well as pretrained ones, with few
// labels the pretrained features lead.
func SynthConfig() Config {
	return Config{Version: 1, Task: "pretrain", Data: "synth", Variant: "clean", DataSeed: 1, SynthTrain: 256,
		Probe: "synth", ProbeVariant: "hardest", ProbeShots: 10, Model: SynthModel(), Train: SynthSchedule()}
}

// FolderPoints is the number of points pcx pretrain folder reads per file
// (meshes sampled to it, larger clouds cut to it): enough for the 1,200
// that pretraining's farthest-point sampling takes, a quarter of
// datasets.DefaultMeshPoints' cost.
const FolderPoints = 2048

// PresetConfig is a run of the pretraining preset (presets.PretrainModel)
// on the data set spec data (see datasets.Open).
func PresetConfig(preset, data string) (Config, error) {
	m, t, err := FromPreset(preset)
	if err != nil {
		return Config{}, err
	}
	return Config{Version: 1, Task: "pretrain", Data: data, Model: m, Train: t}, nil
}

// ShapeNetConfig is pcx pretrain shapenet's configuration: Point-MAE's own
// pretraining (the pointmae preset) on ShapeNet-55 at root, 1,024 points
// of each cloud.
func ShapeNetConfig(root string) Config {
	c, err := PresetConfig("pointmae", datasets.KindShapeNet+":"+root)
	if err != nil {
		panic(err) // the built-in table lacks its pointmae preset
	}
	c.DataPoints = datasets.ShapeNetPoints
	return c
}

// FolderConfig is pcx pretrain folder's configuration: the synth preset on
// every cloud and mesh under dir (datasets.LoadUnlabelled), FolderPoints
// points each, datasets.DefaultHoldOut of the files held out.
func FolderConfig(dir string) Config {
	c, err := PresetConfig("synth", datasets.KindUnlabelled+":"+dir)
	if err != nil {
		panic(err)
	}
	c.DataPoints = FolderPoints
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Version != 1 {
		return fmt.Errorf("unknown pcx configuration version %d (want pcx: 1)", c.Version)
	}
	if c.Task != "pretrain" {
		return fmt.Errorf("not a pretraining configuration (task is %q, want pretrain)", c.Task)
	}
	if c.Data == "" {
		return fmt.Errorf("no data set (data:)")
	}
	if c.DataPoints < 0 {
		return fmt.Errorf("data_points must not be negative (got %d)", c.DataPoints)
	}
	if c.SynthTrain < 0 || c.SynthTrain > 100000 {
		return fmt.Errorf("synth_train must lie in [0, 100000] (got %d)", c.SynthTrain)
	}
	if !(c.HoldOut < 1) {
		return fmt.Errorf("hold_out must be less than 1 (got %v)", c.HoldOut)
	}
	if err := c.validateProbe(); err != nil {
		return err
	}
	m := c.Model
	switch {
	case m.TransDim <= 0 || m.Depth <= 0 || m.Heads <= 0 || m.DecoderDepth <= 0 || m.DecoderHeads <= 0:
		return fmt.Errorf("model: trans_dim, depth, num_heads, decoder_depth and decoder_num_heads must be positive")
	case m.TransDim%m.Heads != 0 || m.TransDim%m.DecoderHeads != 0:
		return fmt.Errorf("model: trans_dim %d is not divisible by the heads (%d, %d)", m.TransDim, m.Heads, m.DecoderHeads)
	case m.TransDim > 4096 || m.Depth > 64 || m.DecoderDepth > 64:
		return fmt.Errorf("model: too large (trans_dim %d, depth %d, decoder_depth %d)", m.TransDim, m.Depth, m.DecoderDepth)
	case m.NumGroup < 2 || m.GroupSize <= 0 || m.NPoints < m.NumGroup || m.NPoints < m.GroupSize || m.NPoints > 1<<20:
		return fmt.Errorf("model: %d groups of %d points from %d points cannot be drawn", m.NumGroup, m.GroupSize, m.NPoints)
	case !(m.MaskRatio > 0 && m.MaskRatio < 1):
		return fmt.Errorf("mask ratio must lie strictly between 0 and 1 (got %g)", m.MaskRatio)
	case m.MaskType != backbone.MaskRand && m.MaskType != backbone.MaskBlock:
		return fmt.Errorf("mask type must be %s or %s (got %q)", backbone.MaskRand, backbone.MaskBlock, m.MaskType)
	case !(m.DropPath >= 0 && m.DropPath < 1):
		return fmt.Errorf("drop_path_rate must lie in [0, 1) (got %g)", m.DropPath)
	}
	if n := m.Backbone().NumMask(); n < 1 || n >= m.NumGroup {
		return fmt.Errorf("mask ratio %g masks %d of %d groups; at least one must be masked and one visible", m.MaskRatio, n, m.NumGroup)
	}
	if math.IsNaN(m.MaskRatio) {
		return fmt.Errorf("mask ratio is NaN")
	}
	return c.Train.Validate()
}

// ReadConfig reads a point-cloud pretraining configuration file (a run's
// config.yaml): unknown keys are errors, an image pretraining file
// (ReadImageConfig's) is refused with a message saying so, and the result
// is validated.
func ReadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	if taskOf(data) == TaskImages {
		return Config{}, fmt.Errorf("%s is an image pretraining configuration (task: %s), not a point-cloud one (task: pretrain); use it with pcx pretrain images, fashion-mnist or cifar", path, TaskImages)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %v", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// LoadData opens the run's data set. An unlabelled folder's clouds with
// fewer points than the model takes are left out, and so are its files
// that cannot be read (the data set's LeftOut lists them).
func LoadData(c Config) (*datasets.Dataset, error) {
	d, err := datasets.Open(c.Data, datasets.Options{Variant: c.Variant, Points: c.DataPoints, Seed: c.DataSeed, SynthTrain: c.SynthTrain,
		HoldOut: c.HoldOut, MinPoints: c.Model.NPoints, SkipBad: true})
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Data, err)
	}
	return d, nil
}

// SaveBackbone writes the encoder's parameters ps (BackboneParams) to path
// with meta, in float16 when half (half the size; the built-in pretrained
// backbones are such files), otherwise in float32.
func SaveBackbone(path string, ps nn.Params, meta map[string]string, half bool) error {
	d := checkpoint.Dict(ps, nil, meta)
	if half {
		for _, k := range d.Keys {
			if t := d.Tensors[k]; t.DType == state.F32 {
				t.DType = state.F16
			}
		}
	}
	return state.WriteSafetensors(path, d)
}

// Options say how a run executes; none changes its result.
type Options struct {
	// Resume continues the run in the directory from its last checkpoint.
	Resume bool
	// Log receives the header and each epoch's line, Progress the
	// progress; either may be nil.
	Log, Progress io.Writer
	// Device, when set, trains there (see train.Options.Device).
	Device nn.Device
	// AfterStep is passed to train.Options (tests interrupt runs with it).
	AfterStep func(epoch, batch int)
	// Half writes backbone.safetensors in float16.
	Half bool
	// ProbeData, when set, is the probe's data set (Config.Probe's, which
	// Train otherwise loads with LoadProbeData).
	ProbeData *datasets.Dataset
	// ImageProbeData, when set, is an image run's probe data
	// (ImageConfig.Probe's, which TrainImages otherwise loads with
	// LoadImageProbeData).
	ImageProbeData *ImageCorpus
	// Parallel makes the run one rank of a data-parallel run; rank 0
	// writes the backbone and the figures' data.
	train.Parallel
}

// Train pretrains on data in dir: dir/config.yaml is written first (unless
// resuming), train's last and best checkpoints of the whole model during
// the run, and dir/backbone.safetensors (BackboneParams of the last
// epoch's model) at its end.
func Train(ctx context.Context, c Config, data *datasets.Dataset, dir string, o Options) (*train.Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(c.Train.Seed, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	if c.Init != "" && !o.Resume { // a resume loads last.safetensors
		rep, err := InitFrom(m, c.Init)
		if err != nil {
			return nil, err
		}
		if o.Log != nil {
			fmt.Fprintf(o.Log, "initialised from %s\n%s", c.Init, rep)
		}
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
	task := &Task{Model: m, Data: data, UseTest: c.TestLoss}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "Point-MAE pretraining on %s (%d train clouds", data.Name, task.Len(train.TrainSplit))
		if c.TestLoss {
			fmt.Fprintf(o.Log, ", %d held out", task.Len(train.TestSplit))
		}
		fmt.Fprintf(o.Log, "): %d parameters, %d of %d groups masked (%s)\n", m.Params().Count(),
			c.Model.Backbone().NumMask(), c.Model.NumGroup, c.Model.MaskType)
	}
	if c.Probe != "" {
		if task.SVM, err = newProbe(c, m, o); err != nil {
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
	if err := WriteRun(dir, m, res); err != nil {
		return res, err
	}
	return res, nil
}
