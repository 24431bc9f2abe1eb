package imagesets

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/images"
)

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// classDirs lists the visible sub-folders of dir, sorted.
func classDirs(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if !hidden(e.Name()) && (e.IsDir() || (e.Type()&fs.ModeSymlink != 0 && isDir(filepath.Join(dir, e.Name())))) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// imageFiles lists the image files under dir (recursively), sorted.
func imageFiles(dir string) ([]string, error) { return filesUnder(dir, images.IsImageFile) }

// filesUnder lists the files under dir (recursively) whose names accept
// takes, sorted, skipping hidden files and folders.
func filesUnder(dir string, accept func(string) bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && hidden(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.IsDir() && accept(p) {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// OpenFolder opens a folder of images, one sub-folder per class:
// <dir>/train/<class>/ and <dir>/test/<class>/ when both exist (the
// classes are the union of their sub-folders), otherwise <dir>/<class>/,
// whose files are split per class: a shuffle seeded by seed and the
// class name puts round(testFraction·n) of a class's n files in Test and
// the rest in Train, each part in file-name order. Images are decoded
// when asked for.
func OpenFolder(dir string, testFraction float64, seed uint64) (*Dataset, error) {
	if !isDir(dir) {
		return nil, fmt.Errorf("%s: not a folder", dir)
	}
	d := &Dataset{Name: filepath.Base(filepath.Clean(dir)), Train: &Split{paths: []string{}, part: "train"}, Test: &Split{paths: []string{}, part: "test"}}
	tr, te := filepath.Join(dir, "train"), filepath.Join(dir, "test")
	if isDir(tr) && isDir(te) {
		a, err := classDirs(tr)
		if err != nil {
			return nil, err
		}
		b, err := classDirs(te)
		if err != nil {
			return nil, err
		}
		set := map[string]bool{}
		for _, c := range append(a, b...) {
			set[c] = true
		}
		for c := range set {
			d.Classes = append(d.Classes, c)
		}
		sort.Strings(d.Classes)
		if len(d.Classes) == 0 {
			return nil, fmt.Errorf("%s: no class folders in train/ or test/", dir)
		}
		for l, c := range d.Classes {
			for _, part := range []struct {
				dir string
				s   *Split
			}{{tr, d.Train}, {te, d.Test}} {
				p := filepath.Join(part.dir, c)
				if !isDir(p) {
					continue
				}
				fs, err := imageFiles(p)
				if err != nil {
					return nil, err
				}
				for _, f := range fs {
					part.s.paths = append(part.s.paths, f)
					part.s.Labels = append(part.s.Labels, l)
				}
			}
		}
		if d.Train.Len() == 0 {
			return nil, fmt.Errorf("%s: no .png, .jpg or .jpeg files under train/", dir)
		}
		return d, nil
	}
	if !(testFraction >= 0 && testFraction < 1) {
		return nil, fmt.Errorf("%s: test fraction %g is not in [0, 1)", dir, testFraction)
	}
	classes, err := classDirs(dir)
	if err != nil {
		return nil, err
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s: no class folders (want <class>/ or train/<class>/ and test/<class>/)", dir)
	}
	d.Classes = classes
	for l, c := range classes {
		fs, err := imageFiles(filepath.Join(dir, c))
		if err != nil {
			return nil, err
		}
		h := fnv.New64a()
		h.Write([]byte(c))
		r := rand.New(rand.NewPCG(seed, h.Sum64()))
		nTest := int(math.Round(testFraction * float64(len(fs))))
		test := make([]bool, len(fs))
		for _, i := range r.Perm(len(fs))[:nTest] {
			test[i] = true
		}
		for i, f := range fs {
			s := d.Train
			if test[i] {
				s = d.Test
			}
			s.paths = append(s.paths, f)
			s.Labels = append(s.Labels, l)
		}
	}
	if d.Train.Len() == 0 {
		return nil, fmt.Errorf("%s: no .png, .jpg or .jpeg files in the class folders", dir)
	}
	return d, nil
}
