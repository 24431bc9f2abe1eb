package datasets

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pcx-dev/pcx/pointcloud"
)

// writeShapeNet writes a tiny ShapeNet-55 layout under a temporary root:
// clouds of n points named by taxonomy, lists train and test.
func writeShapeNet(t *testing.T, n int, train, test []string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "ShapeNet-55"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "shapenet_pc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, f := range append(append([]string{}, train...), test...) {
		c := &pointcloud.Cloud{XYZ: make([]float32, 3*n)}
		for i := range c.XYZ {
			// Off-centre and large, so that normalisation shows.
			c.XYZ[i] = float32(10 + k + (i*7919)%97)
		}
		if err := pointcloud.WriteFile(filepath.Join(root, "shapenet_pc", f), c); err != nil {
			t.Fatal(err)
		}
	}
	for name, list := range map[string][]string{"train.txt": train, "test.txt": test} {
		if err := os.WriteFile(filepath.Join(root, "ShapeNet-55", name), []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoadShapeNet55(t *testing.T) {
	train := []string{"02691156-aaa.npy", "03001627-bbb.npy", "02691156-ccc.npy"}
	test := []string{"04379243-ddd.npy"}
	root := writeShapeNet(t, 200, train, test)
	for _, spec := range []string{"shapenet:" + root, root, filepath.Join(root, "ShapeNet-55")} {
		d, err := Open(spec, Options{Points: 64, Seed: 3})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(d.Classes, ","); got != "02691156,03001627,04379243" {
			t.Errorf("%s: classes %s", spec, got)
		}
		if d.Train.Len() != 3 || d.Test.Len() != 1 {
			t.Fatalf("%s: %d train, %d test", spec, d.Train.Len(), d.Test.Len())
		}
		if got := d.Train.Labels; got[0] != 0 || got[1] != 1 || got[2] != 0 || d.Test.Labels[0] != 2 {
			t.Errorf("%s: labels %v %v", spec, got, d.Test.Labels)
		}
		for _, p := range append(append([][]float32{}, d.Train.Points...), d.Test.Points...) {
			if len(p) != 64*3 {
				t.Fatalf("%s: a cloud of %d points, want 64", spec, len(p)/3)
			}
			var mean [3]float64
			maxR := 0.0
			for i := 0; i < 64; i++ {
				for a := 0; a < 3; a++ {
					mean[a] += float64(p[3*i+a]) / 64
				}
			}
			for i := 0; i < 64; i++ {
				r := 0.0
				for a := 0; a < 3; a++ {
					r += math.Pow(float64(p[3*i+a])-mean[a], 2)
				}
				maxR = max(maxR, math.Sqrt(r))
			}
			if math.Abs(mean[0])+math.Abs(mean[1])+math.Abs(mean[2]) > 1e-4 || math.Abs(maxR-1) > 1e-4 {
				t.Errorf("%s: not pc_norm'ed: mean %v, radius %v", spec, mean, maxR)
			}
		}
		if k, _ := Detect(root); k != KindShapeNet {
			t.Errorf("Detect(%s) = %q", root, k)
		}
	}
	// The same seed, the same subsets; another seed, others.
	a, _ := LoadShapeNet55(root, ShapeNetOptions{Points: 64, Seed: 3, Workers: 1})
	b, _ := LoadShapeNet55(root, ShapeNetOptions{Points: 64, Seed: 3, Workers: 3})
	c, _ := LoadShapeNet55(root, ShapeNetOptions{Points: 64, Seed: 4})
	if !equalClouds(a.Train.Points, b.Train.Points) || equalClouds(a.Train.Points, c.Train.Points) {
		t.Error("subsets do not follow the seed alone")
	}
	// Default: 1024 points; files with fewer are kept whole.
	d, err := LoadShapeNet55(root, ShapeNetOptions{})
	if err != nil || len(d.Train.Points[0]) != 200*3 {
		t.Errorf("default points: %v", err)
	}
	// Raw keeps the stored coordinates.
	r, err := LoadShapeNet55(root, ShapeNetOptions{Points: 200, Raw: true})
	if err != nil || r.Train.Points[0][0] < 9 {
		t.Errorf("raw: %v", err)
	}
}

func equalClouds(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestLoadShapeNet55Errors(t *testing.T) {
	good := []string{"02691156-aaa.npy"}
	for _, tc := range []struct {
		name  string
		setup func(root string)
		want  string
	}{
		{"missing train list", func(root string) { os.Remove(filepath.Join(root, "ShapeNet-55", "train.txt")) }, "ShapeNet-55/{train,test}.txt"},
		{"missing cloud", func(root string) {
			os.WriteFile(filepath.Join(root, "ShapeNet-55", "train.txt"), []byte("02691156-aaa.npy\n02691156-zzz.npy\n"), 0o644)
		}, "02691156-zzz.npy"},
		{"bad line", func(root string) {
			os.WriteFile(filepath.Join(root, "ShapeNet-55", "test.txt"), []byte("\n\nnodash.npy\n"), 0o644)
		}, "test.txt:3"},
		{"bad npy", func(root string) {
			os.WriteFile(filepath.Join(root, "shapenet_pc", "02691156-aaa.npy"), []byte("\x93NUMPY\x01\x00garbage"), 0o644)
		}, "02691156-aaa.npy"},
		{"empty train list", func(root string) {
			os.WriteFile(filepath.Join(root, "ShapeNet-55", "train.txt"), []byte("\n"), 0o644)
		}, "lists no clouds"},
	} {
		root := writeShapeNet(t, 32, good, nil)
		tc.setup(root)
		_, err := LoadShapeNet55(root, ShapeNetOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadShapeNet55(t.TempDir(), ShapeNetOptions{}); err == nil || !strings.Contains(err.Error(), "shapenet_pc") {
		t.Errorf("an empty folder: %v", err)
	}
	// A missing test.txt is an empty test split.
	root := writeShapeNet(t, 32, good, nil)
	os.Remove(filepath.Join(root, "ShapeNet-55", "test.txt"))
	if d, err := LoadShapeNet55(root, ShapeNetOptions{}); err != nil || d.Test.Len() != 0 || d.Train.Len() != 1 {
		t.Errorf("no test.txt: %v", err)
	}
}

func TestParseShapeNetList(t *testing.T) {
	items, err := ParseShapeNetList("l.txt", []byte("02691156-1a04e3eab45ca15dd86060f189eb133.npy\r\n\n  03001627-x.y.npy  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Taxonomy != "02691156" || items[0].Model != "1a04e3eab45ca15dd86060f189eb133" ||
		items[1].File != "03001627-x.y.npy" || items[1].Model != "x" {
		t.Errorf("items %+v", items)
	}
	for _, bad := range []string{"a/b-c.npy", "-c.npy", "02691156-.npy", "02691156-x.txt", "../x-y.npy", "a-b.npy\na-b.npy", "a b-c.npy", "x\x00-y.npy"} {
		if _, err := ParseShapeNetList("l.txt", []byte(bad)); err == nil || !strings.Contains(err.Error(), "l.txt") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseShapeNetList(f *testing.F) {
	f.Add([]byte("02691156-1a04e3eab45ca15dd86060f189eb133.npy\n03001627-x.npy\n"))
	f.Add([]byte("\xef\xbb\xbfa-b.npy\r\n"))
	f.Add([]byte("a-b.npy\na-b.npy"))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseShapeNetList("l.txt", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "l.txt") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, it := range items {
			if it.Taxonomy == "" || it.Model == "" || !safeName(it.File) || seen[it.File] || !utf8.ValidString(it.File) ||
				!strings.HasPrefix(it.File, it.Taxonomy+"-"+it.Model) {
				t.Errorf("item %+v", it)
			}
			seen[it.File] = true
		}
	})
}
