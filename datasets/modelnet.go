package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
)

// DefaultMeshPoints is how many points a mesh is sampled to when the options
// leave the count at 0: the size of Point-MAE's ModelNet40 cache samples.
const DefaultMeshPoints = 8192

// ModelNet40 layouts, for ModelNetOptions.Layout.
const (
	ModelNetDat  = "dat"  // Point-MAE's pickled cache
	ModelNetTxt  = "txt"  // modelnet40_normal_resampled text tree
	ModelNetMesh = "mesh" // ModelNet40/<class>/{train,test}/*.off
)

var modelNet40Classes = []string{
	"airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car",
	"chair", "cone", "cup", "curtain", "desk", "door", "dresser", "flower_pot",
	"glass_box", "guitar", "keyboard", "lamp", "laptop", "mantel", "monitor",
	"night_stand", "person", "piano", "plant", "radio", "range_hood", "sink",
	"sofa", "stairs", "stool", "table", "tent", "toilet", "tv_stand", "vase",
	"wardrobe", "xbox",
}

// ModelNet40Classes returns the 40 ModelNet40 class names in label order.
func ModelNet40Classes() []string { return append([]string{}, modelNet40Classes...) }

// ModelNetOptions tunes LoadModelNet40.
type ModelNetOptions struct {
	// Layout is ModelNetDat, ModelNetTxt or ModelNetMesh; "" detects it.
	Layout string
	// Points cuts each sample to its first Points points, as Point-MAE
	// does (the .dat points are in farthest-point order). 0 keeps all the
	// stored points, and samples DefaultMeshPoints from each mesh. Asking
	// for more points than a stored sample has is an error.
	Points int
	// Normals keeps the per-point normals (the .dat and text layouts store
	// them; mesh samples take their triangle's normal).
	Normals bool
	// Raw skips the per-sample normalisation (see pointcloud.Normalize).
	Raw bool
	// Seed seeds mesh sampling; each file mixes in its own path.
	Seed uint64
	// Workers bounds the goroutines reading files; 0 means GOMAXPROCS.
	Workers int
}

// LoadModelNet40 loads ModelNet40 from root in whichever layout it holds
// (see the package documentation; root may also be the folder above a
// modelnet40_normal_resampled/ or ModelNet40/ folder). Each sample is cut to
// opt.Points points and normalised unless opt.Raw.
func LoadModelNet40(root string, opt ModelNetOptions) (*Dataset, error) {
	if opt.Points < 0 {
		return nil, fmt.Errorf("cannot keep %d points", opt.Points)
	}
	layout, dir, err := detectModelNet(root, opt.Layout)
	if err != nil {
		return nil, err
	}
	var d *Dataset
	switch layout {
	case ModelNetDat:
		d, err = loadModelNetDat(dir)
	case ModelNetTxt:
		d, err = loadModelNetTxt(dir, opt.Workers)
	case ModelNetMesh:
		n := opt.Points
		if n == 0 {
			n = DefaultMeshPoints
		}
		d, err = LoadFolder(dir, FolderOptions{Points: n, Seed: opt.Seed, Normals: true, Workers: opt.Workers})
	}
	if err != nil {
		return nil, err
	}
	d.Name = "modelnet40"
	for _, s := range []*Split{d.Train, d.Test} {
		if err := finishModelNet(s, opt); err != nil {
			return nil, fmt.Errorf("%s: %v", dir, err)
		}
	}
	return d, nil
}

// finishModelNet cuts, normalises and drops normals as opt says.
func finishModelNet(s *Split, opt ModelNetOptions) error {
	for i, p := range s.Points {
		if opt.Points > 0 {
			if len(p)/3 < opt.Points {
				return fmt.Errorf("sample %d has %d points, fewer than the %d asked for", i, len(p)/3, opt.Points)
			}
			s.Points[i] = p[: 3*opt.Points : 3*opt.Points]
			if s.Normals != nil {
				s.Normals[i] = s.Normals[i][: 3*opt.Points : 3*opt.Points]
			}
		}
		if !opt.Raw {
			pointcloud.Normalize(s.Points[i])
		}
	}
	if !opt.Normals {
		s.Normals = nil
	}
	return nil
}

// detectModelNet finds which layout root (or a known sub-folder) holds.
func detectModelNet(root, want string) (layout, dir string, err error) {
	switch want {
	case "", ModelNetDat, ModelNetTxt, ModelNetMesh:
	default:
		return "", "", fmt.Errorf("unknown ModelNet40 layout %q (want %s, %s or %s)", want, ModelNetDat, ModelNetTxt, ModelNetMesh)
	}
	if !isDir(root) {
		if _, err := os.Stat(root); err != nil {
			return "", "", err
		}
		return "", "", fmt.Errorf("%s: not a folder", root)
	}
	for _, dir := range []string{root, filepath.Join(root, "modelnet40_normal_resampled"), filepath.Join(root, "ModelNet40")} {
		if !isDir(dir) {
			continue
		}
		if (want == "" || want == ModelNetDat) && findDatPair(dir) != "" {
			return ModelNetDat, dir, nil
		}
		if (want == "" || want == ModelNetTxt) && isFile(filepath.Join(dir, "modelnet40_shape_names.txt")) {
			return ModelNetTxt, dir, nil
		}
		if (want == "" || want == ModelNetMesh) && looksLikeClassTree(dir) {
			return ModelNetMesh, dir, nil
		}
	}
	what := "ModelNet40 data"
	if want != "" {
		what = "ModelNet40 " + want + " layout"
	}
	return "", "", fmt.Errorf("%s: no %s found (looked for modelnet40_{train,test}_*pts_fps.dat, modelnet40_shape_names.txt, <class>/{train,test}/ folders, here and in modelnet40_normal_resampled/ and ModelNet40/)", root, what)
}

// findDatPair returns the point-count tag (e.g. "8192") of the largest
// modelnet40_{train,test}_<N>pts_fps.dat pair in dir, or "".
func findDatPair(dir string) string {
	matches, _ := filepath.Glob(filepath.Join(dir, "modelnet40_train_*pts_fps.dat"))
	best, bestN := "", -1
	for _, m := range matches {
		tag := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "modelnet40_train_"), "pts_fps.dat")
		n, err := strconv.Atoi(tag)
		if err != nil || !isFile(filepath.Join(dir, "modelnet40_test_"+tag+"pts_fps.dat")) {
			continue
		}
		if n > bestN {
			best, bestN = tag, n
		}
	}
	return best
}

func loadModelNetDat(dir string) (*Dataset, error) {
	tag := findDatPair(dir)
	if tag == "" {
		return nil, fmt.Errorf("%s: no modelnet40_{train,test}_*pts_fps.dat pair", dir)
	}
	classes := modelNet40Classes
	if names := filepath.Join(dir, "modelnet40_shape_names.txt"); isFile(names) {
		data, err := os.ReadFile(names)
		if err != nil {
			return nil, err
		}
		if classes, err = parseShapeNames(names, data); err != nil {
			return nil, err
		}
	}
	paths := [2]string{
		filepath.Join(dir, "modelnet40_train_"+tag+"pts_fps.dat"),
		filepath.Join(dir, "modelnet40_test_"+tag+"pts_fps.dat"),
	}
	var splits [2]*Split
	err := forEach(2, 2, func(i int) error {
		s, err := ReadModelNetDat(paths[i])
		if err != nil {
			return err
		}
		for j, l := range s.Labels {
			if l >= len(classes) {
				return fmt.Errorf("%s: sample %d has label %d, outside the %d classes [0,%d)", paths[i], j, l, len(classes), len(classes))
			}
		}
		splits[i] = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Dataset{Classes: append([]string{}, classes...), Train: splits[0], Test: splits[1]}, nil
}

// ModelNetLists is what the index files of a modelnet40_normal_resampled
// tree say.
type ModelNetLists struct {
	// Classes is modelnet40_shape_names.txt, in order.
	Classes []string
	// Train and Test are modelnet40_{train,test}.txt, in order.
	Train, Test []ModelNetItem
}

// ModelNetItem is one line of a split list.
type ModelNetItem struct {
	// Name is the item, e.g. "night_stand_0001"; its points are in
	// <root>/<class name>/<Name>.txt.
	Name string
	// Class indexes ModelNetLists.Classes.
	Class int
}

// ReadModelNetLists reads modelnet40_shape_names.txt and
// modelnet40_{train,test}.txt from root, checking that every item names a
// known class (the part before its last "_").
func ReadModelNetLists(root string) (*ModelNetLists, error) {
	read := func(name string) ([]byte, string, error) {
		p := filepath.Join(root, name)
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, p, fmt.Errorf("%s: missing (a modelnet40_normal_resampled tree needs modelnet40_shape_names.txt, modelnet40_train.txt and modelnet40_test.txt)", p)
		}
		return data, p, err
	}
	data, p, err := read("modelnet40_shape_names.txt")
	if err != nil {
		return nil, err
	}
	l := &ModelNetLists{}
	if l.Classes, err = parseShapeNames(p, data); err != nil {
		return nil, err
	}
	index := make(map[string]int, len(l.Classes))
	for i, c := range l.Classes {
		index[c] = i
	}
	for _, sp := range []struct {
		file string
		dst  *[]ModelNetItem
	}{{"modelnet40_train.txt", &l.Train}, {"modelnet40_test.txt", &l.Test}} {
		data, p, err := read(sp.file)
		if err != nil {
			return nil, err
		}
		if *sp.dst, err = parseSplitList(p, data, index); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// listLines calls fn with each non-blank line, trimmed, and its number.
func listLines(name string, data []byte, fn func(line string, no int) error) error {
	bom, err := pointcloud.CheckText(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	data = data[bom:]
	if !utf8.Valid(data) {
		return fmt.Errorf("%s: not UTF-8 text", name)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("%s: not a text file (has NUL bytes)", name)
	}
	for no, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := fn(line, no+1); err != nil {
			return err
		}
	}
	return nil
}

// safeName reports whether s can be one path component.
func safeName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '\\' || r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// parseShapeNames reads a class list, one name a line.
func parseShapeNames(name string, data []byte) ([]string, error) {
	var names []string
	seen := map[string]int{}
	err := listLines(name, data, func(line string, no int) error {
		if !safeName(line) {
			return fmt.Errorf("%s:%d: %s is not a usable class name", name, no, state.Quote(line))
		}
		if prev, dup := seen[line]; dup {
			return fmt.Errorf("%s:%d: class %s already named on line %d", name, no, state.Quote(line), prev)
		}
		seen[line] = no
		names = append(names, line)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no class names", name)
	}
	return names, nil
}

// parseSplitList reads a split list of items such as airplane_0001.
func parseSplitList(name string, data []byte, classes map[string]int) ([]ModelNetItem, error) {
	var items []ModelNetItem
	err := listLines(name, data, func(line string, no int) error {
		if !safeName(line) {
			return fmt.Errorf("%s:%d: %s is not a usable item name", name, no, state.Quote(line))
		}
		cut := strings.LastIndexByte(line, '_')
		if cut <= 0 {
			return fmt.Errorf("%s:%d: item %s has no <class>_<number> form", name, no, state.Quote(line))
		}
		c, ok := classes[line[:cut]]
		if !ok {
			return fmt.Errorf("%s:%d: item %s names unknown class %s (not in modelnet40_shape_names.txt)", name, no, state.Quote(line), state.Quote(line[:cut]))
		}
		items = append(items, ModelNetItem{Name: line, Class: c})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no items", name)
	}
	return items, nil
}

func loadModelNetTxt(dir string, workers int) (*Dataset, error) {
	lists, err := ReadModelNetLists(dir)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Classes: lists.Classes}
	for _, sp := range []struct {
		items []ModelNetItem
		dst   **Split
	}{{lists.Train, &d.Train}, {lists.Test, &d.Test}} {
		s := &Split{
			Points:  make([][]float32, len(sp.items)),
			Normals: make([][]float32, len(sp.items)),
			Labels:  make([]int, len(sp.items)),
		}
		hasNormals := make([]bool, len(sp.items))
		err := forEach(len(sp.items), workers, func(i int) error {
			it := sp.items[i]
			p := filepath.Join(dir, lists.Classes[it.Class], it.Name+".txt")
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			xyz, nrm, err := parseModelNetTxt(p, data)
			if err != nil {
				return err
			}
			s.Points[i], s.Normals[i], s.Labels[i] = xyz, nrm, it.Class
			hasNormals[i] = nrm != nil
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, h := range hasNormals {
			if !h {
				s.Normals = nil
				break
			}
		}
		*sp.dst = s
	}
	return d, nil
}

// parseModelNetTxt reads "x,y,z,nx,ny,nz" lines (commas and/or blanks
// between the numbers; 3 columns without normals).
func parseModelNetTxt(name string, data []byte) (xyz, nrm []float32, err error) {
	bom, err := pointcloud.CheckText(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	data = data[bom:]
	cols := 0
	no := 0
	var fields [7][]byte
	for len(data) > 0 {
		no++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		n := 0
		for len(line) > 0 {
			i := 0
			for i < len(line) && (line[i] == ',' || line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
				i++
			}
			line = line[i:]
			if len(line) == 0 {
				break
			}
			j := 0
			for j < len(line) && line[j] != ',' && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' {
				j++
			}
			if n < len(fields) {
				fields[n] = line[:j]
			}
			n++
			line = line[j:]
		}
		if n == 0 {
			continue
		}
		if cols == 0 {
			if n != 3 && n != 6 {
				return nil, nil, fmt.Errorf("%s:%d: %d numbers, want 6 (x,y,z,nx,ny,nz) or 3 (x,y,z)", name, no, n)
			}
			cols = n
		} else if n != cols {
			return nil, nil, fmt.Errorf("%s:%d: %d numbers, want %d like the lines above", name, no, n, cols)
		}
		for k := 0; k < cols; k++ {
			v, err := strconv.ParseFloat(string(fields[k]), 32)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return nil, nil, fmt.Errorf("%s:%d: %s is not a number", name, no, state.Quote(string(fields[k])))
			}
			f := float32(v)
			if f != f || v > maxFloat32 || v < -maxFloat32 {
				what := "coordinate"
				if k >= 3 {
					what = "normal"
				}
				return nil, nil, fmt.Errorf("%s:%d: non-finite %s %s", name, no, what, fields[k])
			}
			if k < 3 {
				xyz = append(xyz, f)
			} else {
				nrm = append(nrm, f)
			}
		}
	}
	if cols == 0 {
		return nil, nil, fmt.Errorf("%s: no points", name)
	}
	return xyz, nrm, nil
}

const maxFloat32 = 3.4028234663852886e38

// looksLikeClassTree reports whether dir has a sub-folder with a train/ or
// test/ folder in it.
func looksLikeClassTree(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if isDir(filepath.Join(dir, e.Name(), "train")) || isDir(filepath.Join(dir, e.Name(), "test")) {
			return true
		}
	}
	return false
}

// sortedDirs lists the sub-folders of dir in name order.
func sortedDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
