package datasets

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/pointcloud"
)

func TestLoadFolderMeshes(t *testing.T) {
	opt := FolderOptions{Points: 64, Seed: 9, Normals: true}
	d, err := LoadFolder(td("ModelNet40"), opt)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "ModelNet40" || strings.Join(d.Classes, ",") != "box,cone" {
		t.Fatalf("%q %v", d.Name, d.Classes)
	}
	if d.Train.Normals == nil {
		t.Fatal("sampled meshes lost their normals")
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	// Sampling is fixed per file: same seed, same points, any worker count;
	// another seed, other points.
	opt.Workers = 1
	again, err := LoadFolder(td("ModelNet40"), opt)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSplit(d.Train, again.Train) || !sameSplit(d.Test, again.Test) {
		t.Fatal("mesh sampling differs between runs")
	}
	opt.Seed = 10
	other, err := LoadFolder(td("ModelNet40"), opt)
	if err != nil {
		t.Fatal(err)
	}
	if sameSplit(d.Train, other.Train) {
		t.Fatal("seed does not change sampling")
	}
	// Each sample lies on its own mesh: the box samples inside its box.
	m, err := pointcloud.ReadFile(td("ModelNet40", "box", "train", "box_0001.off"))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := m.Bounds()
	p := d.Train.Points[0]
	for i := 0; i < len(p); i += 3 {
		for k := 0; k < 3; k++ {
			if p[i+k] < lo[k]-1e-4 || p[i+k] > hi[k]+1e-4 {
				t.Fatalf("point %v outside the mesh bounds %v %v", p[i:i+3], lo, hi)
			}
		}
	}
}

func TestLoadFolderClouds(t *testing.T) {
	root := t.TempDir()
	// 10-point clouds with normals in .xyz, one plain .csv, a README to skip.
	var lines []string
	for i := 0; i < 10; i++ {
		lines = append(lines, ftoa(float64(i))+" 0 0 0 0 1")
	}
	cloud := strings.Join(lines, "\n") + "\n"
	writeFile(t, filepath.Join(root, "rock", "train", "a.xyz"), cloud)
	writeFile(t, filepath.Join(root, "rock", "train", "b.xyz"), cloud)
	writeFile(t, filepath.Join(root, "rock", "test", "c.xyz"), cloud)
	writeFile(t, filepath.Join(root, "tree", "train", "d.csv"), "0,0,0\n1,1,1\n2,2,2\n")
	writeFile(t, filepath.Join(root, "tree", "train", "README"), "not data")
	writeFile(t, filepath.Join(root, "tree", "train", ".hidden.xyz"), "garbage")
	writeFile(t, filepath.Join(root, "notes", "x.txt"), "not a class: no train/ or test/")

	d, err := LoadFolder(root, FolderOptions{Points: 4, Seed: 1, Normals: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Classes, ",") != "rock,tree" {
		t.Fatalf("classes %v", d.Classes)
	}
	if d.Train.Len() != 3 || d.Test.Len() != 1 || !equalInts(d.Train.Labels, []int{0, 0, 1}) {
		t.Fatalf("%d train %v, %d test", d.Train.Len(), d.Train.Labels, d.Test.Len())
	}
	// 10 points cut to 4 in file order; 3 points kept.
	a := d.Train.Points[0]
	if len(a) != 12 || len(d.Train.Points[2]) != 9 {
		t.Fatalf("sizes %d %d", len(a), len(d.Train.Points[2]))
	}
	for i := 3; i < len(a); i += 3 {
		if a[i] <= a[i-3] {
			t.Fatalf("subset not in file order: %v", a)
		}
	}
	// Not every sample has normals, so none are kept.
	if d.Train.Normals != nil {
		t.Fatal("normals kept though d.csv has none")
	}
	// Same file name in another place, same subset: seeds follow the
	// relative path, not the root.
	root2 := t.TempDir()
	writeFile(t, filepath.Join(root2, "rock", "train", "a.xyz"), cloud)
	d2, err := LoadFolder(root2, FolderOptions{Points: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for k := range a {
		if d2.Train.Points[0][k] != a[k] {
			t.Fatal("subset depends on the root folder")
		}
	}
	// Normalize.
	d3, err := LoadFolder(root2, FolderOptions{Normalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := d3.Train.Points[0]; !near(float64(p[0]), -1, 1e-6) || !near(float64(p[len(p)-3]), 1, 1e-6) {
		t.Fatalf("normalised %v", p)
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func TestLoadFolderShapeNames(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "b", "train", "x.xyz"), "0 0 0\n1 1 1\n")
	writeFile(t, filepath.Join(root, "a", "train", "x.xyz"), "0 0 0\n1 1 1\n")
	writeFile(t, filepath.Join(root, "shape_names.txt"), "b\nempty\na\n")
	d, err := LoadFolder(root, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Classes, ",") != "b,empty,a" || !equalInts(d.Train.Labels, []int{0, 2}) {
		t.Fatalf("%v %v", d.Classes, d.Train.Labels)
	}
	writeFile(t, filepath.Join(root, "shape_names.txt"), "b\n")
	_, err = LoadFolder(root, FolderOptions{})
	wantErr(t, err, `shape_names.txt: class folder "a" is not listed`)
}

func TestLoadFolderBad(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		opt   FolderOptions
		parts []string
	}{
		{"no classes", map[string]string{"x/y.xyz": "0 0 0\n"}, FolderOptions{}, []string{"no <class>/train/ or <class>/test/ folders"}},
		{"no files", map[string]string{"a/train/README": "x"}, FolderOptions{}, []string{"no point-cloud or mesh files"}},
		{"bad cloud", map[string]string{"a/train/x.xyz": "0 0 0\n1 nan 1\n"}, FolderOptions{}, []string{"x.xyz"}},
		{"flat mesh", map[string]string{"a/train/x.off": "OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n"}, FolderOptions{}, []string{"x.off", "zero surface area"}},
		{"negative points", map[string]string{"a/train/x.xyz": "0 0 0\n"}, FolderOptions{Points: -1}, []string{"cannot sample -1 points"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for k, v := range c.files {
				writeFile(t, filepath.Join(root, k), v)
			}
			_, err := LoadFolder(root, c.opt)
			wantErr(t, err, c.parts...)
		})
	}
	_, err := LoadFolder(td("nowhere"), FolderOptions{})
	wantErr(t, err, "nowhere", "no such file")
	_, err = LoadFolder(td("expected.json"), FolderOptions{})
	wantErr(t, err, "expected.json: not a folder")
}

func TestSubsample(t *testing.T) {
	c := &pointcloud.Cloud{XYZ: make([]float32, 300), Normals: make([]float32, 300)}
	for i := range c.XYZ {
		c.XYZ[i] = float32(i)
		c.Normals[i] = -float32(i)
	}
	s := subsample(c, 20, 5)
	if s.Len() != 20 || len(s.Normals) != 60 {
		t.Fatalf("%d points", s.Len())
	}
	seen := map[float32]bool{}
	for i := 0; i < 20; i++ {
		x := s.XYZ[3*i]
		if int(x)%3 != 0 || s.XYZ[3*i+2] != x+2 || s.Normals[3*i] != -x || seen[x] {
			t.Fatalf("point %d = %v", i, s.XYZ[3*i:3*i+3])
		}
		if i > 0 && x <= s.XYZ[3*i-3] {
			t.Fatal("not in order")
		}
		seen[x] = true
	}
}

func TestForEachLowestError(t *testing.T) {
	for _, w := range []int{1, 2, 7} {
		err := forEach(100, w, func(i int) error {
			if i == 40 || i == 41 || i == 90 {
				return errors.New(ftoa(float64(i)))
			}
			return nil
		})
		if err == nil || err.Error() != "40" {
			t.Fatalf("workers %d: %v", w, err)
		}
	}
	n := 0
	if err := forEach(0, 4, func(int) error { n++; return nil }); err != nil || n != 0 {
		t.Fatal("empty forEach")
	}
}
