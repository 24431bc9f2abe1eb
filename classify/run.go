package classify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"go.yaml.in/yaml/v3"
)

// ConfigFile is the resolved configuration in a run directory.
const ConfigFile = "config.yaml"

// Checkpoint metadata keys written by Train.
const (
	MetaConfig  = "pcx_config"
	MetaClasses = "classes"
	// MetaModality is "images" in an image model's checkpoint (package
	// vision); a point-cloud checkpoint has none.
	MetaModality = "pcx_modality"
	// MetaUp is the training data's up axis (x, y or z; see
	// datasets.UpAxis), written when it is known. A checkpoint without it
	// is taken as y up, as Point-MAE's data sets are.
	MetaUp = "up_axis"
)

// Config describes a whole run: the data, the model, pretrained weights,
// augmentation and the optimisation. It is what RUN/config.yaml holds and
// what every checkpoint carries, so that a checkpoint is enough to
// evaluate or predict.
type Config struct {
	// Version marks pcx's own configuration files (1).
	Version int `yaml:"pcx" json:"pcx"`
	// Data is the data set spec (synth, scanobjectnn:DIR, modelnet40:DIR,
	// folder:DIR, npy:DIR, or a path).
	Data string `yaml:"data" json:"data"`
	// Variant is the ScanObjectNN or synth variant.
	Variant string `yaml:"variant,omitempty" json:"variant,omitempty"`
	// DataPoints is the number of points loaded per sample (0: the data
	// set's default).
	DataPoints int `yaml:"data_points,omitempty" json:"data_points,omitempty"`
	// Ckpt is the pretrained checkpoint (Point-MAE .pth, DAPT .pth or pcx
	// .safetensors, or "builtin:NAME" for one of pcx's built-in pretrained
	// backbones, presets.LookupPretrained); empty means random
	// initialisation.
	Ckpt string `yaml:"ckpt,omitempty" json:"ckpt,omitempty"`
	// PartialLoad accepts a Ckpt that lacks some of the backbone's
	// pretrained weights, which then start random (refused otherwise).
	PartialLoad bool `yaml:"partial_load,omitempty" json:"partial_load,omitempty"`
	// Reinit names parameters (shell patterns of state-dict names, such as
	// pos_embed.*) that keep their random initialisation although Ckpt has
	// them.
	Reinit []string `yaml:"reinit,omitempty" json:"reinit,omitempty"`
	// Rotate adds a random rotation about this axis to training clouds.
	Rotate string `yaml:"rotate,omitempty" json:"rotate,omitempty"`
	// TrainSubset, when positive, trains on that many of the training
	// split's samples, picked by the seed (train.Subset), as the image
	// path's VTAB-1K protocol does: pretraining's gain is largest with few
	// labels.
	TrainSubset int          `yaml:"train_subset,omitempty" json:"train_subset,omitempty"`
	Model       ModelConfig  `yaml:"model" json:"model"`
	Train       train.Config `yaml:"train" json:"train"`
}

// RunOptions say how a run executes, apart from what it computes (Config):
// none of them is saved, and none changes a result.
type RunOptions struct {
	// Resume continues the run in the directory from its last checkpoint.
	Resume bool
	// Log receives the header and each epoch's line; Progress the
	// progress bar or lines. Either may be nil.
	Log, Progress io.Writer
	// Device, when set, trains there (see train.Options.Device).
	Device nn.Device
	// HostGrouping keeps FPS and kNN grouping in the loader on the host
	// when Device can group (points.Grouper), which otherwise groups
	// each batch; both give the same groups.
	HostGrouping bool
	// Parallel makes the run one rank of a data-parallel run.
	train.Parallel
}

// LoadData opens the run's data set and checks it against the model.
func LoadData(cfg Config) (*datasets.Dataset, error) {
	opt := datasets.Options{Variant: cfg.Variant, Points: cfg.DataPoints}
	if err := CheckData(cfg.Data, opt); err != nil {
		return nil, err
	}
	d, err := datasets.Open(cfg.Data, opt)
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Data, err)
	}
	return d, nil
}

// Build makes the model of cfg, initialised from the training seed, and
// loads the pretrained checkpoint if one is named; the load report (missing
// and unexpected keys, as Point-MAE prints them) goes to log.
func Build(cfg Config, log io.Writer) (*Model, error) {
	m, err := NewModel(cfg.Model, train.Stream(cfg.Train.Seed, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	if cfg.Ckpt != "" {
		var rep checkpoint.Report
		opt := backbone.LoadOptions{Partial: cfg.PartialLoad}
		kept, err := backbone.KeepInit(m.Params(), cfg.Reinit, func() (err error) {
			if name, ok := presets.BuiltinName(cfg.Ckpt); ok {
				var data []byte
				if data, err = presets.PretrainedWeights(name); err == nil {
					rep, err = backbone.LoadWeightsFrom(cfg.Ckpt, data, m.Params(), opt)
				}
				return err
			}
			rep, err = backbone.LoadWeights(cfg.Ckpt, m.Params(), opt)
			return err
		})
		if err != nil {
			return nil, err
		}
		if log != nil {
			fmt.Fprintf(log, "loaded %s\n%s", cfg.Ckpt, rep)
			if len(kept) > 0 {
				fmt.Fprintf(log, "kept their random initialisation (reinit): %s\n", strings.Join(kept, ", "))
			}
		}
	}
	return m, nil
}

// Train runs cfg on data (LoadData) in dir as ro says, and returns the
// result. dir/config.yaml is written first (unless resuming).
func Train(ctx context.Context, cfg Config, data *datasets.Dataset, dir string, ro RunOptions) (*train.Result, error) {
	resume, log, progress := ro.Resume, ro.Log, ro.Progress
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Model.Classes != len(data.Classes) {
		return nil, fmt.Errorf("%s has %d classes, the model %d", cfg.Data, len(data.Classes), cfg.Model.Classes)
	}
	sub, err := train.Subset(cfg.TrainSubset, data.Train.Len(), cfg.Train.Seed)
	if err != nil {
		return nil, err
	}
	if sub != nil {
		data = data.WithTrain(sub)
	}
	built := cfg
	if resume {
		built.Ckpt = "" // the run's checkpoint replaces every weight
	}
	m, err := Build(built, log)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if !resume && ro.Primary() {
		if err := WriteConfig(filepath.Join(dir, ConfigFile), cfg); err != nil {
			return nil, err
		}
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	classes, _ := json.Marshal(data.Classes)
	if log != nil {
		tun := m.Params().Trainable().Count()
		fmt.Fprintf(log, "%s on %s (%d classes, %d train / %d test): preset %s, %d of %d parameters tunable (%.2f%%)\n",
			cfg.Model.Method, data.Name, len(data.Classes), data.Train.Len(), data.Test.Len(), cfg.Model.Preset,
			tun, m.Params().Count(), 100*float64(tun)/float64(m.Params().Count()))
	}
	task := &Task{Model: m, Data: data, Rotate: cfg.Rotate}
	if g, ok := ro.Device.(points.Grouper); ok && !ro.HostGrouping {
		task.Grouper = g
	}
	meta := map[string]string{MetaConfig: string(cj), MetaClasses: string(classes)}
	if up := datasets.UpAxis(cfg.Data); up != "" {
		meta[MetaUp] = up
	}
	opt := train.Options{Dir: dir, Resume: resume, Log: log, Progress: progress, Meta: meta, Device: ro.Device, Parallel: ro.Parallel}
	// The starting running statistics are known when they are the ones
	// just built: always for a new run, and for a resumed run that began
	// from random weights (a resumed run from a checkpoint began from that
	// checkpoint's statistics, which are not loaded here).
	if log != nil && (!resume || cfg.Ckpt == "") {
		start := m.snapshotStats()
		opt.OnEpoch = func(train.EpochMetrics) {
			if note := m.staleStatsNote(start); note != "" {
				fmt.Fprintln(log, note)
			}
		}
	}
	return train.Run(ctx, task, cfg.Train, opt)
}

// WriteConfig writes a run configuration (classify's Config, or another
// task's) as YAML, atomically.
func WriteConfig(path string, cfg any) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		fmt.Fprintln(w, "# pcx run configuration (pcx train --config accepts this file)")
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(cfg); err != nil {
			return err
		}
		return enc.Close()
	})
}

// ReadRunConfig reads a run directory's config.yaml.
func ReadRunConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	var cfg Config
	if _, err := ReadConfigFile(path, &cfg); err != nil {
		return Config{}, err
	}
	if cfg.Version != 1 {
		return Config{}, fmt.Errorf("%s: not a pcx run configuration (no \"pcx: 1\")", path)
	}
	return cfg, nil
}

// Trained is a model loaded from a pcx checkpoint with what it was trained
// on.
type Trained struct {
	// Path is the checkpoint's file ("" when built otherwise).
	Path    string
	Model   *Model
	Config  Config
	Classes []string
	Meta    map[string]string
	// Up is the training data's up axis (MetaUp; y when not recorded).
	Up pointcloud.Axis
}

// LoadCheckpoint rebuilds the model a pcx training checkpoint was written
// by and loads its weights.
func LoadCheckpoint(path string) (*Trained, error) {
	format, err := state.Sniff(path)
	if err != nil {
		return nil, err
	}
	if format != state.FormatSafetensors {
		return nil, fmt.Errorf("%s: a PyTorch checkpoint, not a pcx training checkpoint (the best.safetensors of a pcx train run); pretrained .pth weights go to pcx train --ckpt", path)
	}
	d, err := state.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	if m := d.Meta[MetaModality]; m != "" {
		return nil, fmt.Errorf("%s: an image model's checkpoint (%s), not a point-cloud one", path, state.Quote(m))
	}
	var cfg Config
	if err := json.Unmarshal([]byte(d.Meta[MetaConfig]), &cfg); err != nil {
		return nil, fmt.Errorf("%s: not a pcx training checkpoint (no readable %q metadata): %v", path, MetaConfig, err)
	}
	var classes []string
	if err := json.Unmarshal([]byte(d.Meta[MetaClasses]), &classes); err != nil || len(classes) != cfg.Model.Classes {
		return nil, fmt.Errorf("%s: the class names in its metadata do not match its %d classes", path, cfg.Model.Classes)
	}
	cfg.Ckpt = ""
	m, err := NewModel(cfg.Model, train.Stream(cfg.Train.Seed, 0, 0, 0))
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
	up := pointcloud.Y
	if s, ok := d.Meta[MetaUp]; ok {
		if up, err = pointcloud.ParseAxis(s); err != nil {
			return nil, fmt.Errorf("%s: metadata %q is %s, not x, y or z", path, MetaUp, state.Quote(s))
		}
	}
	return &Trained{Path: path, Model: m, Config: cfg, Classes: classes, Meta: d.Meta, Up: up}, nil
}

// name is what messages call the trained model: its checkpoint's path.
func (t *Trained) name() string {
	if t.Path == "" {
		return "the model"
	}
	return t.Path
}
