package datasets

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/pointcloud"
)

// DefaultHoldOut is the share of an unlabelled folder's files that
// LoadUnlabelled holds out as the test split unless told otherwise.
const DefaultHoldOut = 0.1

// UnlabelledClass is the one class of an unlabelled data set.
const UnlabelledClass = "unlabelled"

// UnlabelledOptions tunes LoadUnlabelled.
type UnlabelledOptions struct {
	// Points, Seed, Normals, Normalize and Workers are FolderOptions':
	// meshes are sampled to Points points (DefaultMeshPoints when 0),
	// larger clouds cut to a random subset of Points, fixed per file.
	Points    int
	Seed      uint64
	Normals   bool
	Normalize bool
	Workers   int
	// HoldOut is the share of the files held out as the test split,
	// chosen at random from Seed: round(HoldOut·n) of n files, at least one
	// when HoldOut > 0 and there are two or more files, and never all of
	// them. 0 means DefaultHoldOut; a negative value holds none out.
	HoldOut float64
	// MinPoints, when set, leaves out the clouds with fewer points (after
	// loading: a mesh always has Points): a pretraining model cannot take
	// them.
	MinPoints int
	// SkipBad leaves out the files that cannot be read or sampled (a
	// README.txt that is not a cloud, a 4-D OFF) instead of failing.
	SkipBad bool
}

// LoadUnlabelled loads every file under root (recursively) whose extension
// pointcloud.FormatOf knows, as clouds without labels: a data set of one
// class (UnlabelledClass) for pretraining. Dot files and dot folders are
// skipped. Meshes and clouds are handled as LoadFolder handles them; a
// seeded share of the files (UnlabelledOptions.HoldOut) makes the test
// split. Each split lists its files in path order. Clouds with fewer than
// UnlabelledOptions.MinPoints points are left out of either split, and
// with SkipBad so are unreadable files; Dataset.LeftOut says why of each.
func LoadUnlabelled(root string, opt UnlabelledOptions) (*Dataset, error) {
	if opt.Points < 0 {
		return nil, fmt.Errorf("cannot sample %d points", opt.Points)
	}
	if !(opt.HoldOut < 1) {
		return nil, fmt.Errorf("cannot hold out a share of %v of the files (want less than 1)", opt.HoldOut)
	}
	if !isDir(root) {
		if _, err := os.Stat(root); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: not a folder", root)
	}
	var rels []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if _, err := pointcloud.FormatOf(d.Name()); err != nil {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("%s: no point-cloud or mesh files in it or its sub-folders", root)
	}
	sort.Strings(rels)
	test := holdOut(len(rels), opt.HoldOut, opt.Seed)
	var jobs [2][]folderJob
	for i, rel := range rels {
		side := 0
		if test[i] {
			side = 1
		}
		jobs[side] = append(jobs[side], folderJob{path: filepath.Join(root, filepath.FromSlash(rel)), rel: rel})
	}
	d := &Dataset{Name: filepath.Base(filepath.Clean(root)), Classes: []string{UnlabelledClass}}
	fo := FolderOptions{Points: opt.Points, Seed: opt.Seed, Normals: opt.Normals, Normalize: opt.Normalize, Workers: opt.Workers}
	for i, dst := range []**Split{&d.Train, &d.Test} {
		s, left, err := loadJobs(jobs[i], fo, opt.MinPoints, opt.SkipBad)
		if err != nil {
			return nil, err
		}
		*dst = s
		d.LeftOut = append(d.LeftOut, left...)
	}
	if d.Train.Len() == 0 {
		return nil, fmt.Errorf("%s: none of the %d files for training could be used; the first left out: %s",
			root, len(jobs[0]), d.LeftOut[0])
	}
	sort.Strings(d.LeftOut)
	return d, nil
}

// holdOut marks which of n files are held out: round(share·n) of them
// (share 0: DefaultHoldOut; negative: none), at least one when share > 0
// and n ≥ 2, at most n−1, chosen by a permutation drawn from seed.
func holdOut(n int, share float64, seed uint64) []bool {
	if share == 0 {
		share = DefaultHoldOut
	}
	k := 0
	if share > 0 && n >= 2 {
		k = min(max(int(share*float64(n)+0.5), 1), n-1)
	}
	test := make([]bool, n)
	for _, i := range pointcloud.NewRand(seed).Perm(n)[:k] {
		test[i] = true
	}
	return test
}
