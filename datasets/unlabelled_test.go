package datasets

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/pointcloud"
)

// writeUnlabelled writes meshes and clouds at several depths under a
// temporary folder, with files pcx does not read and a dot folder.
func writeUnlabelled(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	tet := &pointcloud.Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, Faces: []int32{0, 1, 2, 0, 1, 3, 0, 2, 3, 1, 2, 3}}
	cloud := &pointcloud.Cloud{XYZ: make([]float32, 3*300)}
	for i := range cloud.XYZ {
		cloud.XYZ[i] = float32(i%17) * 0.1
	}
	for _, f := range []struct {
		path string
		c    *pointcloud.Cloud
	}{
		{"a.off", tet}, {"sub/b.ply", tet}, {"sub/deeper/c.xyz", cloud}, {"d.npy", cloud}, {"sub/e.off", tet},
		{"f.obj", tet}, {".hidden/g.off", tet}, {"sub/deeper/h.stl", tet}, {"i.xyz", cloud}, {"j.off", tet},
	} {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := pointcloud.WriteFile(p, f.c); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "README"), []byte("not a cloud"), 0o644)
	os.WriteFile(filepath.Join(root, ".k.off"), []byte("skipped"), 0o644)
	return root
}

func TestLoadUnlabelled(t *testing.T) {
	root := writeUnlabelled(t)
	d, err := Open("unlabelled:"+root, Options{Points: 128, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(d.Classes) != 1 || d.Classes[0] != UnlabelledClass {
		t.Errorf("classes %v", d.Classes)
	}
	// 9 files (the dot folder's skipped): 10% held out rounds to 1.
	if d.Train.Len() != 8 || d.Test.Len() != 1 {
		t.Fatalf("%d train, %d test", d.Train.Len(), d.Test.Len())
	}
	for _, p := range append(append([][]float32{}, d.Train.Points...), d.Test.Points...) {
		if len(p) != 128*3 {
			t.Errorf("a sample of %d points, want 128", len(p)/3)
		}
	}
	// Open normalises: every sample lies in the unit sphere, touching it.
	for _, p := range d.Train.Points {
		r := 0.0
		for i := 0; i+2 < len(p); i += 3 {
			r = math.Max(r, math.Sqrt(float64(p[i]*p[i]+p[i+1]*p[i+1]+p[i+2]*p[i+2])))
		}
		if math.Abs(r-1) > 1e-3 {
			t.Errorf("a sample reaches %v from its centre, want 1", r)
		}
	}
	again, _ := LoadUnlabelled(root, UnlabelledOptions{Points: 128, Seed: 2, Workers: 1, Normalize: true}) // Open normalises
	if !equalClouds(d.Train.Points, again.Train.Points) || !equalClouds(d.Test.Points, again.Test.Points) {
		t.Error("the same seed loaded other samples")
	}
	half, err := LoadUnlabelled(root, UnlabelledOptions{Points: 128, Seed: 2, HoldOut: 0.5})
	if err != nil || half.Train.Len() != 4 || half.Test.Len() != 5 {
		t.Errorf("a half held out: %v", err)
	}
	none, err := LoadUnlabelled(root, UnlabelledOptions{Points: 128, HoldOut: -1})
	if err != nil || none.Train.Len() != 9 || none.Test.Len() != 0 {
		t.Errorf("none held out: %v", err)
	}
	// Another seed holds out other files (over a few seeds, at least once).
	differs := false
	for s := uint64(3); s < 8 && !differs; s++ {
		o, _ := LoadUnlabelled(root, UnlabelledOptions{Points: 128, Seed: s, HoldOut: 0.5})
		differs = !equalClouds(o.Test.Points[:1], half.Test.Points[:1])
	}
	if !differs {
		t.Error("the seed does not choose the held-out files")
	}
	// MinPoints leaves out the three 300-point clouds (meshes are sampled
	// to 8192 points).
	big, err := LoadUnlabelled(root, UnlabelledOptions{MinPoints: 500, HoldOut: -1})
	if err != nil || big.Train.Len() != 6 || len(big.LeftOut) != 3 || !strings.Contains(big.LeftOut[0], "300 points, fewer than 500") {
		t.Errorf("MinPoints 500: %v, left out %q", err, big.LeftOut)
	}
	if _, err := LoadUnlabelled(root, UnlabelledOptions{MinPoints: 10000}); err == nil || !strings.Contains(err.Error(), "fewer than 10000") {
		t.Errorf("MinPoints 10000: %v", err)
	}
	if k, _ := Detect(root); k == KindUnlabelled {
		t.Error("Detect picked an unlabelled folder")
	}
}

func TestLoadUnlabelledErrors(t *testing.T) {
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt.bak"), []byte("x"), 0o644)
	if _, err := LoadUnlabelled(empty, UnlabelledOptions{}); err == nil || !strings.Contains(err.Error(), "no point-cloud or mesh files") {
		t.Errorf("empty folder: %v", err)
	}
	root := writeUnlabelled(t)
	os.WriteFile(filepath.Join(root, "sub", "broken.off"), []byte("OFF\n3 1 0\n0 0 0\n"), 0o644)
	if _, err := LoadUnlabelled(root, UnlabelledOptions{}); err == nil || !strings.Contains(err.Error(), "broken.off") {
		t.Errorf("a broken mesh: %v", err)
	}
	// SkipBad leaves it out, saying why.
	d, err := Open("unlabelled:"+root, Options{SkipBad: true, HoldOut: -1})
	if err != nil || d.Train.Len() != 9 || len(d.LeftOut) != 1 || !strings.Contains(d.LeftOut[0], "broken.off") {
		t.Errorf("SkipBad: %v, left out %q", err, d.LeftOut)
	}
	if _, err := LoadUnlabelled(root, UnlabelledOptions{HoldOut: 1}); err == nil {
		t.Error("holding out every file: no error")
	}
	if _, err := LoadUnlabelled(filepath.Join(root, "missing"), UnlabelledOptions{}); err == nil {
		t.Error("a missing folder: no error")
	}
	if _, err := Open("unlabelled:", Options{}); err == nil {
		t.Error("no path: no error")
	}
}
