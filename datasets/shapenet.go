package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/nn/state"
)

// ShapeNetPoints is the number of points Point-MAE's pretraining takes from
// each ShapeNet-55 cloud (cfgs/pretrain.yaml's npoints).
const ShapeNetPoints = 1024

// ShapeNet-55's folders and list files inside its root.
const (
	shapeNetListDir = "ShapeNet-55"
	shapeNetPCDir   = "shapenet_pc"
)

// ShapeNetOptions tunes LoadShapeNet55.
type ShapeNetOptions struct {
	// Points is the number of points kept of each cloud (ShapeNetPoints
	// when 0): a random subset of the file's points, as Point-MAE's
	// random_sample takes, drawn once per file from Seed and the file's
	// name (Point-MAE draws a new one every time it reads a sample). A
	// file with fewer points is kept whole.
	Points int
	// Seed seeds the subsets.
	Seed uint64
	// Raw skips pc_norm (centring on the mean and scaling into the unit
	// sphere, after the subset is taken), which Point-MAE always applies.
	Raw bool
	// Workers bounds the goroutines reading files; 0 means GOMAXPROCS.
	Workers int
}

// ShapeNetItem is one line of a ShapeNet-55 list file.
type ShapeNetItem struct {
	// Taxonomy is the ShapeNet synset id, the part before the first "-"
	// (02691156 for airplanes).
	Taxonomy string
	// Model is the model id: the part after the first "-", up to the
	// next "-" or ".".
	Model string
	// File is the whole line, the file's name in shapenet_pc/.
	File string
}

// ParseShapeNetList reads a ShapeNet-55 list file (train.txt or test.txt):
// one file name a line, such as 02691156-1a04e3eab45ca15dd86060f189eb133.npy,
// the taxonomy id before the first "-". Blank lines are skipped; a name
// must be one path component ending in .npy, hold a taxonomy and a model
// id, and appear once. name names the file in errors.
func ParseShapeNetList(name string, data []byte) ([]ShapeNetItem, error) {
	var items []ShapeNetItem
	seen := map[string]int{}
	err := listLines(name, data, func(line string, no int) error {
		if !safeName(line) {
			return fmt.Errorf("%s:%d: %s is not a file name in %s/", name, no, state.Quote(line), shapeNetPCDir)
		}
		if !strings.EqualFold(filepath.Ext(line), ".npy") {
			return fmt.Errorf("%s:%d: %s is not a .npy file", name, no, state.Quote(line))
		}
		parts := strings.Split(line, "-")
		if len(parts) < 2 || parts[0] == "" {
			return fmt.Errorf("%s:%d: %s has no taxonomy id before a \"-\" (want TAXONOMY-MODEL.npy)", name, no, state.Quote(line))
		}
		model, _, _ := strings.Cut(parts[1], ".")
		if model == "" {
			return fmt.Errorf("%s:%d: %s has no model id after the \"-\" (want TAXONOMY-MODEL.npy)", name, no, state.Quote(line))
		}
		if prev, dup := seen[line]; dup {
			return fmt.Errorf("%s:%d: %s already listed on line %d", name, no, state.Quote(line), prev)
		}
		seen[line] = no
		items = append(items, ShapeNetItem{Taxonomy: parts[0], Model: model, File: line})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

// findShapeNet returns the folder of ShapeNet-55's list files and the
// folder of its clouds for a root: the folder holding ShapeNet-55/ and
// shapenet_pc/ (Point-MAE's data/ShapeNet55-34), or ShapeNet-55/ itself
// (its clouds in ../shapenet_pc or ./shapenet_pc).
func findShapeNet(root string) (lists, pc string, err error) {
	if !isDir(root) {
		if _, err := os.Stat(root); err != nil {
			return "", "", err
		}
		return "", "", fmt.Errorf("%s: not a folder", root)
	}
	for _, c := range []struct{ lists, pc string }{
		{filepath.Join(root, shapeNetListDir), filepath.Join(root, shapeNetPCDir)},
		{root, filepath.Join(root, shapeNetPCDir)},
		{root, filepath.Join(root, "..", shapeNetPCDir)},
	} {
		if isFile(filepath.Join(c.lists, "train.txt")) && isDir(c.pc) {
			return c.lists, filepath.Clean(c.pc), nil
		}
	}
	return "", "", fmt.Errorf("%s: not ShapeNet-55 as Point-MAE lays it out: want %s/{train,test}.txt and %s/*.npy in it",
		root, shapeNetListDir, shapeNetPCDir)
}

// isShapeNet reports whether root looks like a ShapeNet-55 root (for
// Detect).
func isShapeNet(root string) bool {
	_, _, err := findShapeNet(root)
	return err == nil
}

// LoadShapeNet55 loads ShapeNet-55 as Point-MAE's ShapeNet data set reads
// it: ShapeNet-55/train.txt and test.txt list files of shapenet_pc/ (numpy
// arrays of 8192×3 points, read by package pointcloud's NPY reader); each
// cloud is cut to a random subset of opt.Points points and normalised
// (pc_norm: centred on its mean, scaled into the unit sphere). Labels are
// the taxonomy ids (55 in the release), classes named by the ids in
// ascending order. A missing test.txt gives an empty test split; a listed
// file that is missing or not a cloud is an error naming it.
func LoadShapeNet55(root string, opt ShapeNetOptions) (*Dataset, error) {
	if opt.Points < 0 {
		return nil, fmt.Errorf("cannot sample %d points", opt.Points)
	}
	if opt.Points == 0 {
		opt.Points = ShapeNetPoints
	}
	lists, pc, err := findShapeNet(root)
	if err != nil {
		return nil, err
	}
	var splits [2][]ShapeNetItem
	for i, name := range []string{"train.txt", "test.txt"} {
		path := filepath.Join(lists, name)
		data, err := os.ReadFile(path)
		if err != nil {
			if i == 1 && os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		if splits[i], err = ParseShapeNetList(path, data); err != nil {
			return nil, err
		}
	}
	if len(splits[0]) == 0 {
		return nil, fmt.Errorf("%s: lists no clouds", filepath.Join(lists, "train.txt"))
	}
	labels := map[string]int{}
	for _, s := range splits {
		for _, it := range s {
			labels[it.Taxonomy] = 0
		}
	}
	classes := make([]string, 0, len(labels))
	for c := range labels {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for i, c := range classes {
		labels[c] = i
	}
	d := &Dataset{Name: "shapenet55", Classes: classes}
	fo := FolderOptions{Points: opt.Points, Seed: opt.Seed, Normalize: !opt.Raw, Workers: opt.Workers}
	for i, dst := range []**Split{&d.Train, &d.Test} {
		jobs := make([]folderJob, len(splits[i]))
		for j, it := range splits[i] {
			jobs[j] = folderJob{path: filepath.Join(pc, it.File), rel: it.File, label: labels[it.Taxonomy]}
		}
		s, err := loadFolderJobs(jobs, fo)
		if err != nil {
			return nil, err
		}
		*dst = s
	}
	return d, nil
}
