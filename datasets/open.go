package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/pointcloud"
)

// LoadSynth generates pcx's synthetic data set (see package synth). Its
// samples are already centred and scaled into the unit sphere.
func LoadSynth(opt synth.Options) (*Dataset, error) {
	train, test, err := synth.Generate(opt)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	name := "synth"
	if opt.Variant != "" {
		name += "-" + opt.Variant
	}
	return &Dataset{
		Name:    name,
		Classes: synth.Classes(),
		Train:   &Split{Points: train.Points, Labels: train.Labels},
		Test:    &Split{Points: test.Points, Labels: test.Labels},
	}, nil
}

// Data set kinds, the names Open and Detect use.
const (
	KindSynth        = "synth"
	KindScanObjectNN = "scanobjectnn"
	KindModelNet40   = "modelnet40"
	KindFolder       = "folder"
	KindNPY          = "npy"
	// KindShapeNet is ShapeNet-55 as Point-MAE lays it out (LoadShapeNet55).
	KindShapeNet = "shapenet"
	// KindUnlabelled is any folder of clouds and meshes, without labels
	// (LoadUnlabelled); never detected, always named.
	KindUnlabelled = "unlabelled"
)

// Kinds lists the data set kinds Open knows.
func Kinds() []string {
	return []string{KindSynth, KindScanObjectNN, KindModelNet40, KindFolder, KindNPY, KindShapeNet, KindUnlabelled}
}

// Options are the loading choices Open passes on; each applies only to the
// kinds that have it.
type Options struct {
	// Variant is the ScanObjectNN variant (objbg, objonly, hardest) or the
	// synth variant (see synth.Variants).
	Variant string
	// Points is the number of points per sample: the first Points of each
	// ModelNet40 sample, the count meshes are sampled to and large clouds
	// cut to in a folder (labelled or not), the subset of each ShapeNet-55
	// cloud, the synth sample size. 0 keeps each kind's default.
	// ScanObjectNN and npy samples are kept whole.
	Points int
	// Seed seeds mesh sampling, cloud subsets, synth generation and the
	// files an unlabelled folder holds out.
	Seed uint64
	// HoldOut is the share of an unlabelled folder's files held out as its
	// test split (see UnlabelledOptions.HoldOut).
	HoldOut float64
	// MinPoints leaves an unlabelled folder's clouds of fewer points out
	// (see UnlabelledOptions.MinPoints).
	MinPoints int
	// SkipBad leaves an unlabelled folder's unreadable files out (see
	// UnlabelledOptions.SkipBad).
	SkipBad bool
	// Normals keeps normals where the data has them.
	Normals bool
	// Normalize, when set, forces per-sample normalisation on or off. When
	// nil, each kind does what Point-MAE does: ModelNet40 and ShapeNet-55
	// are normalised, ScanObjectNN, folders and npy are used as stored,
	// synth comes normalised. Unlabelled folders, files in any units, are
	// normalised.
	Normalize *bool
	// Layout forces a ModelNet40 layout (ModelNetDat, ModelNetTxt,
	// ModelNetMesh).
	Layout string
	// Workers bounds the goroutines loading files; 0 means GOMAXPROCS.
	Workers int
	// SynthTrain is the number of synth training samples per class (0:
	// synth's default, 80).
	SynthTrain int
	// Synth, when set, is used as is for KindSynth instead of the synth
	// defaults with Variant, Points, Seed, SynthTrain and Workers applied.
	Synth *synth.Options
}

// ParseSpec splits a data set spec into its kind and path. A spec is
// "synth" (or "synth:VARIANT", whose path part is the variant),
// "KIND:PATH" for one of Kinds, or a bare path, whose kind is left empty
// for Detect. A path that only looks like KIND:PATH (C:\data) stays a path.
// A path that starts with "~" or "~/" starts in the user's home folder (the
// shell does not expand it after "KIND:" or in "--data=~/...").
func ParseSpec(spec string) (kind, path string) {
	if spec == KindSynth {
		return KindSynth, ""
	}
	if i := strings.IndexByte(spec, ':'); i > 0 {
		k := strings.ToLower(spec[:i])
		for _, known := range Kinds() {
			if k == known {
				if k == KindSynth {
					return k, spec[i+1:] // a variant, not a path
				}
				return k, ExpandHome(spec[i+1:])
			}
		}
	}
	return "", ExpandHome(spec)
}

// ExpandHome replaces a leading "~" or "~/" of path by the user's home
// folder, as a shell does; any other path (~user/... included) is returned
// as it is, and so is path when the home folder is unknown.
func ExpandHome(path string) string {
	if path != "~" && !strings.HasPrefix(path, "~/") && !(filepath.Separator != '/' && strings.HasPrefix(path, "~"+string(filepath.Separator))) {
		return path
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return path
	}
	return filepath.Join(home, path[1:])
}

// Open loads the data set that spec names (see ParseSpec); a bare path's
// kind is found by Detect.
func Open(spec string, opt Options) (*Dataset, error) {
	kind, path := ParseSpec(spec)
	if kind == "" {
		if path == "" {
			return nil, fmt.Errorf("empty data set spec (want %s, KIND:PATH or a path)", KindSynth)
		}
		var err error
		if kind, err = Detect(path); err != nil {
			return nil, err
		}
	}
	if kind != KindSynth && path == "" {
		return nil, fmt.Errorf("%s: a path is needed (%s:PATH)", kind, kind)
	}
	norm := func(d *Dataset) *Dataset {
		if opt.Normalize != nil && *opt.Normalize {
			for _, s := range []*Split{d.Train, d.Test} {
				for _, p := range s.Points {
					pointcloud.Normalize(p)
				}
			}
		}
		return d
	}
	var (
		d   *Dataset
		err error
	)
	switch kind {
	case KindSynth:
		so := synth.DefaultOptions()
		if opt.Synth != nil {
			so = *opt.Synth
		} else {
			if path != "" {
				so.Variant = path
			}
			if opt.Variant != "" {
				so.Variant = opt.Variant
			}
			if opt.Points > 0 {
				so.Points = opt.Points
			}
			if opt.SynthTrain > 0 {
				so.Train = opt.SynthTrain
			}
			so.Seed, so.Workers = opt.Seed, opt.Workers
		}
		if opt.Normalize != nil && !*opt.Normalize {
			return nil, fmt.Errorf("synth: samples are generated normalised; they cannot be loaded raw")
		}
		d, err = LoadSynth(so)
	case KindScanObjectNN:
		d, err = LoadScanObjectNN(path, opt.Variant)
		if err == nil {
			d = norm(d)
		}
	case KindNPY:
		d, err = LoadNPY(path)
		if err == nil {
			d = norm(d)
		}
	case KindModelNet40:
		d, err = LoadModelNet40(path, ModelNetOptions{
			Layout:  opt.Layout,
			Points:  opt.Points,
			Normals: opt.Normals,
			Raw:     opt.Normalize != nil && !*opt.Normalize,
			Seed:    opt.Seed,
			Workers: opt.Workers,
		})
	case KindFolder:
		d, err = LoadFolder(path, FolderOptions{
			Points:    opt.Points,
			Seed:      opt.Seed,
			Normals:   opt.Normals,
			Normalize: opt.Normalize != nil && *opt.Normalize,
			Workers:   opt.Workers,
		})
	case KindShapeNet:
		d, err = LoadShapeNet55(path, ShapeNetOptions{
			Points:  opt.Points,
			Seed:    opt.Seed,
			Raw:     opt.Normalize != nil && !*opt.Normalize,
			Workers: opt.Workers,
		})
	case KindUnlabelled:
		d, err = LoadUnlabelled(path, UnlabelledOptions{
			Points:    opt.Points,
			Seed:      opt.Seed,
			Normals:   opt.Normals,
			Normalize: opt.Normalize == nil || *opt.Normalize,
			Workers:   opt.Workers,
			HoldOut:   opt.HoldOut,
			MinPoints: opt.MinPoints,
			SkipBad:   opt.SkipBad,
		})
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Detect tells which kind of data set the folder at path holds:
//
//	scanobjectnn  main_split/ or main_split_nobg/, or *_objectdataset*.h5 files
//	npy           train_data.npy
//	shapenet      ShapeNet-55/train.txt and shapenet_pc/ (or train.txt beside
//	              or above shapenet_pc/)
//	modelnet40    modelnet40_*_*pts_fps.dat, modelnet40_shape_names.txt, or a
//	              modelnet40_normal_resampled/ or ModelNet40/ folder inside, or
//	              a class tree in a folder named ModelNet40
//	folder        any other <class>/{train,test}/ tree
func Detect(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s: is a file; give the folder that holds the data set", path)
	}
	if isDir(filepath.Join(path, "main_split")) || isDir(filepath.Join(path, "main_split_nobg")) {
		return KindScanObjectNN, nil
	}
	if m, _ := filepath.Glob(filepath.Join(path, "*_objectdataset*.h5")); len(m) > 0 {
		return KindScanObjectNN, nil
	}
	if isFile(filepath.Join(path, "train_data.npy")) {
		return KindNPY, nil
	}
	if isShapeNet(path) {
		return KindShapeNet, nil
	}
	if findDatPair(path) != "" || isFile(filepath.Join(path, "modelnet40_shape_names.txt")) ||
		isDir(filepath.Join(path, "modelnet40_normal_resampled")) || isDir(filepath.Join(path, "ModelNet40")) {
		return KindModelNet40, nil
	}
	if looksLikeClassTree(path) {
		if strings.EqualFold(filepath.Base(filepath.Clean(path)), "ModelNet40") {
			return KindModelNet40, nil
		}
		return KindFolder, nil
	}
	return "", fmt.Errorf("%s: cannot tell the data set layout: no ScanObjectNN h5 files, ModelNet40 .dat or list files, npy files or <class>/{train,test}/ folders", path)
}

// UpAxis is the up axis ("x", "y" or "z") of the data set spec names, as
// pcx loads it, or "" when it is not known. Synth is generated y up, and
// ShapeNet-55's clouds are stored y up as ShapeNet's models are;
// ScanObjectNN's h5 files and ModelNet40's point clouds (Point-MAE's .dat
// files, modelnet40_normal_resampled) are stored y up, which is also the
// axis their rotation augmentations turn about. ModelNet40's original
// meshes, folders and npy files are oriented as whoever made them chose.
func UpAxis(spec string) string {
	kind, path := ParseSpec(spec)
	if kind == "" && path != "" {
		kind, _ = Detect(path)
	}
	switch kind {
	case KindSynth, KindScanObjectNN, KindShapeNet:
		return "y"
	case KindModelNet40:
		if layout, _, err := detectModelNet(path, ""); err == nil && layout != ModelNetMesh {
			return "y"
		}
	}
	return ""
}
