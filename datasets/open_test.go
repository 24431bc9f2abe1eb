package datasets

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/datasets/synth"
)

func smallSynth(t *testing.T) *Dataset {
	t.Helper()
	opt := synth.DefaultOptions()
	opt.Train, opt.Test, opt.Points = 2, 1, 48
	d, err := LoadSynth(opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLoadSynth(t *testing.T) {
	d := smallSynth(t)
	n := len(synth.Classes())
	if d.Name != "synth-clean" || len(d.Classes) != n || d.Train.Len() != 2*n || d.Test.Len() != n {
		t.Fatalf("%q: %d classes, %d train, %d test", d.Name, len(d.Classes), d.Train.Len(), d.Test.Len())
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSynth(synth.Options{Train: 1, Test: 1, Points: 8, Variant: "nope"})
	wantErr(t, err, "synth: ")
}

func TestParseSpec(t *testing.T) {
	cases := []struct{ spec, kind, path string }{
		{"synth", KindSynth, ""},
		{"synth:hardest", KindSynth, "hardest"},
		{"scanobjectnn:/data/so", KindScanObjectNN, "/data/so"},
		{"ModelNet40:rel/dir", KindModelNet40, "rel/dir"},
		{"folder:C:/x", KindFolder, "C:/x"},
		{"npy:out", KindNPY, "out"},
		{"/data/so", "", "/data/so"},
		{`C:\data`, "", `C:\data`},
		{"synthetic", "", "synthetic"},
	}
	for _, c := range cases {
		k, p := ParseSpec(c.spec)
		if k != c.kind || p != c.path {
			t.Errorf("%q: %q %q, want %q %q", c.spec, k, p, c.kind, c.path)
		}
	}
}

func TestDetect(t *testing.T) {
	cases := []struct{ path, kind string }{
		{td("scanobjectnn"), KindScanObjectNN},
		{td("scanobjectnn", "main_split"), KindScanObjectNN},
		{td("modelnet40_dat"), KindModelNet40},
		{td("modelnet40_normal_resampled"), KindModelNet40},
		{td("ModelNet40"), KindModelNet40},
		{testdata, KindModelNet40},
		{td("h5"), ""},
		{td("pickle"), ""},
	}
	for _, c := range cases {
		k, err := Detect(c.path)
		if c.kind == "" {
			if err == nil {
				t.Errorf("%s: detected %q", c.path, k)
			} else if !strings.Contains(err.Error(), "cannot tell the data set layout") {
				t.Errorf("%s: %v", c.path, err)
			}
			continue
		}
		if err != nil || k != c.kind {
			t.Errorf("%s: %q %v, want %q", c.path, k, err, c.kind)
		}
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "cat", "train", "a.xyz"), "0 0 0\n")
	if k, err := Detect(root); err != nil || k != KindFolder {
		t.Errorf("class tree: %q %v", k, err)
	}
	_, err := Detect(td("expected.json"))
	wantErr(t, err, "is a file")
	_, err = Detect(td("nowhere"))
	wantErr(t, err, "no such file")
}

func TestOpen(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		spec    string
		opt     Options
		name    string
		classes int
		train   int
		points  int // of the first train sample
	}{
		{"synth", Options{}, "synth-clean", len(synth.Classes()), 2 * len(synth.Classes()), 32},
		{td("scanobjectnn"), Options{}, "scanobjectnn-hardest", 15, 6, 64},
		{"scanobjectnn:" + td("scanobjectnn"), Options{Variant: "objonly"}, "scanobjectnn-objonly", 15, 6, 64},
		{td("modelnet40_dat"), Options{Points: 8}, "modelnet40", 40, 4, 8},
		{"modelnet40:" + testdata, Options{Layout: ModelNetMesh, Points: 20}, "modelnet40", 2, 4, 20},
		{"folder:" + td("ModelNet40"), Options{Points: 20, Normalize: &yes}, "ModelNet40", 2, 4, 20},
		{td("modelnet40_normal_resampled"), Options{Normalize: &no}, "modelnet40", 3, 6, 40},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			opt := c.opt
			if c.spec == "synth" {
				so := synth.DefaultOptions()
				so.Train, so.Test, so.Points = 2, 1, 32
				opt.Synth = &so
			}
			d, err := Open(c.spec, opt)
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != c.name || len(d.Classes) != c.classes || d.Train.Len() != c.train || len(d.Train.Points[0]) != 3*c.points {
				t.Fatalf("%q: %d classes, %d train of %d points", d.Name, len(d.Classes), d.Train.Len(), len(d.Train.Points[0])/3)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Normalize applies to kinds stored raw.
	yesOpt := Options{Normalize: &yes}
	d, err := Open(td("scanobjectnn"), yesOpt)
	if err != nil {
		t.Fatal(err)
	}
	p := d.Train.Points[0]
	maxR := 0.0
	for i := 0; i < len(p); i += 3 {
		maxR = max(maxR, float64(p[i]*p[i]+p[i+1]*p[i+1]+p[i+2]*p[i+2]))
	}
	if !near(maxR, 1, 1e-5) {
		t.Fatalf("normalised radius² %v", maxR)
	}

	bad := []struct {
		spec  string
		opt   Options
		parts []string
	}{
		{"", Options{}, []string{"empty data set spec"}},
		{"scanobjectnn:", Options{}, []string{"scanobjectnn: a path is needed"}},
		{td("h5"), Options{}, []string{"cannot tell the data set layout"}},
		{"synth", Options{Normalize: &no}, []string{"cannot be loaded raw"}},
		{"synth:nope", Options{}, []string{"synth: "}},
	}
	for _, c := range bad {
		_, err := Open(c.spec, c.opt)
		wantErr(t, err, c.parts...)
	}
}

func TestExportRoundTrip(t *testing.T) {
	d := smallSynth(t)
	for _, format := range ExportFormats() {
		t.Run(format, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			if err := Export(d, dir, format); err != nil {
				t.Fatal(err)
			}
			kind, err := Detect(dir)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("%s (%s): %v", dir, kind, err)
			}
			if strings.Join(back.Classes, ",") != strings.Join(d.Classes, ",") {
				t.Fatalf("classes %v", back.Classes)
			}
			for _, sp := range []struct{ a, b *Split }{{d.Train, back.Train}, {d.Test, back.Test}} {
				if !sameByClass(sp.a, sp.b) {
					t.Fatalf("%s: samples differ after the round trip", format)
				}
			}
		})
	}
	if err := Export(d, t.TempDir(), "zip"); err == nil || !strings.Contains(err.Error(), `unknown export format "zip"`) {
		t.Fatalf("unknown format: %v", err)
	}
}

// sameByClass compares two splits class by class, in order within a class:
// the ply tree orders samples by class.
func sameByClass(a, b *Split) bool {
	group := func(s *Split) map[int][][]float32 {
		m := map[int][][]float32{}
		for i, l := range s.Labels {
			m[l] = append(m[l], s.Points[i])
		}
		return m
	}
	ga, gb := group(a), group(b)
	if len(ga) != len(gb) || a.Len() != b.Len() {
		return false
	}
	for l, xs := range ga {
		ys := gb[l]
		if len(xs) != len(ys) {
			return false
		}
		for i := range xs {
			if len(xs[i]) != len(ys[i]) {
				return false
			}
			for k := range xs[i] {
				if xs[i][k] != ys[i][k] {
					return false
				}
			}
		}
	}
	return true
}

// TestExportReadByNumpy checks the h5 and npy exports with h5py and numpy
// themselves, where Debian's python3-h5py and python3-numpy are installed.
func TestExportReadByNumpy(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import h5py, numpy").Run(); err != nil {
		t.Skip("no python3 with h5py and numpy")
	}
	d := smallSynth(t)
	dir := t.TempDir()
	if err := Export(d, filepath.Join(dir, "h5"), ExportH5); err != nil {
		t.Fatal(err)
	}
	if err := Export(d, filepath.Join(dir, "npy"), ExportNPY); err != nil {
		t.Fatal(err)
	}
	script := `import sys, h5py, numpy as np
d = sys.argv[1]
f = h5py.File(d + "/h5/training_objectdataset.h5", "r")
a, l = f["data"][:], f["label"][:]
b, m = np.load(d + "/npy/train_data.npy"), np.load(d + "/npy/train_label.npy")
assert a.dtype == np.float32 and b.dtype == np.float32 and l.dtype == np.int64 and m.dtype == np.int64
assert (a == b).all() and (l == m).all()
print(a.shape[0], a.shape[1], a.shape[2], repr(float(a.astype(np.float64).sum())), " ".join(map(str, l)))
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	want := []string{strconv.Itoa(d.Train.Len()), "48", "3"}
	if len(f) < 4 || strings.Join(f[:3], " ") != strings.Join(want, " ") {
		t.Fatalf("numpy saw %q", out)
	}
	if s, _ := strconv.ParseFloat(f[3], 64); !near(s, sumAll(d.Train.Points), 1e-9) {
		t.Fatalf("numpy sum %v, want %v", s, sumAll(d.Train.Points))
	}
	for i, l := range d.Train.Labels {
		if f[4+i] != strconv.Itoa(l) {
			t.Fatalf("numpy labels %v, want %v", f[4:], d.Train.Labels)
		}
	}
}

func TestExportBad(t *testing.T) {
	d := smallSynth(t)
	ragged := *d
	ragged.Train = &Split{Points: append([][]float32{{0, 0, 0}}, d.Train.Points[1:]...), Labels: d.Train.Labels}
	err := Export(&ragged, t.TempDir(), ExportH5)
	wantErr(t, err, "cannot export the train split as h5: sample 1 has 48 points, sample 0 has 1")
	empty := *d
	empty.Test = &Split{}
	err = Export(&empty, t.TempDir(), ExportNPY)
	wantErr(t, err, "cannot export the test split as npy: it is empty")
	badName := *d
	badName.Classes = append([]string{"a/b"}, d.Classes[1:]...)
	err = Export(&badName, t.TempDir(), ExportPLY)
	wantErr(t, err, `class name "a/b"`)
	badLabel := *d
	badLabel.Test = &Split{Points: d.Test.Points[:1], Labels: []int{99}}
	err = Export(&badLabel, t.TempDir(), ExportPLY)
	wantErr(t, err, "test split: sample 0 has label 99")
}

func TestInfo(t *testing.T) {
	d, err := LoadScanObjectNN(td("scanobjectnn"), "objbg")
	if err != nil {
		t.Fatal(err)
	}
	d.Test.Points[1] = d.Test.Points[1][:30]
	in := d.Info()
	if in.Train.Samples != 6 || in.Test.Samples != 3 || in.Train.MinPoints != 64 || in.Test.MinPoints != 10 || in.Test.MaxPoints != 64 {
		t.Fatalf("%+v", in)
	}
	if in.Train.PerClass[14] != 1 || in.Test.PerClass[7] != 1 || len(in.Train.PerClass) != 15 {
		t.Fatalf("per class %v %v", in.Train.PerClass, in.Test.PerClass)
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"name":"scanobjectnn-objbg"`, `"classes":["bag",`, `"train":{"samples":6,"min_points":64,"max_points":64,"normals":false,"per_class":[1,1,1,1,1,0,`} {
		if !strings.Contains(string(data), key) {
			t.Fatalf("JSON %s lacks %s", data, key)
		}
	}
	var back Info
	if err := json.Unmarshal(data, &back); err != nil || back.Test.MinPoints != 10 {
		t.Fatalf("%v %+v", err, back)
	}
	s := in.String()
	if !strings.Contains(s, "scanobjectnn-objbg: 15 classes") || !strings.Contains(s, "10-64 points each") || !strings.Contains(s, "toilet") {
		t.Fatalf("String:\n%s", s)
	}
	empty := (&Dataset{Name: "e", Classes: []string{"a"}, Train: &Split{}, Test: &Split{}}).Info()
	if empty.Train.MinPoints != 0 || empty.Train.PerClass[0] != 0 {
		t.Fatalf("%+v", empty)
	}
}

func TestValidate(t *testing.T) {
	ok := func() *Dataset {
		return &Dataset{Name: "x", Classes: []string{"a", "b"},
			Train: &Split{Points: [][]float32{{0, 0, 0}}, Labels: []int{1}},
			Test:  &Split{Points: [][]float32{{0, 0, 0, 1, 1, 1}}, Normals: [][]float32{{0, 0, 1, 0, 0, 1}}, Labels: []int{0}}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		edit  func(d *Dataset)
		parts string
	}{
		{"no classes", func(d *Dataset) { d.Classes = nil }, "x: no classes"},
		{"nil split", func(d *Dataset) { d.Test = nil }, "x: no test split"},
		{"count", func(d *Dataset) { d.Train.Labels = []int{1, 1} }, "train split: 1 samples but 2 labels"},
		{"label", func(d *Dataset) { d.Train.Labels[0] = 2 }, "train split: sample 0 has label 2, outside [0,2)"},
		{"ragged", func(d *Dataset) { d.Train.Points[0] = []float32{1, 2} }, "sample 0 has 2 coordinates"},
		{"empty sample", func(d *Dataset) { d.Train.Points[0] = nil }, "sample 0 has no points"},
		{"nan", func(d *Dataset) { d.Test.Points[0][4] = float32(nan()) }, "test split: sample 0 has NaN coordinates"},
		{"normals length", func(d *Dataset) { d.Test.Normals[0] = d.Test.Normals[0][:3] }, "sample 0 has 3 normal values for 2 points"},
		{"normals count", func(d *Dataset) { d.Test.Normals = append(d.Test.Normals, nil) }, "1 samples but 2 normal sets"},
	}
	for _, c := range cases {
		d := ok()
		c.edit(d)
		wantErr(t, d.Validate(), c.parts)
	}
}

func nan() float64 {
	z := 0.0
	return z / z
}

// TestSpecExpandsHome: "~" and "~/" at the start of a spec's path mean the
// home folder, for every kind but synth (whose part after ':' is a
// variant); the data set then opens from there.
func TestSpecExpandsHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	for _, c := range []struct{ spec, kind, path string }{
		{"modelnet40:~/data/mn", KindModelNet40, filepath.Join(home, "data", "mn")},
		{"npy:~", KindNPY, home},
		{"~/so", "", filepath.Join(home, "so")},
		{"folder:~other/x", KindFolder, "~other/x"},
		{"folder:a/~/b", KindFolder, "a/~/b"},
		{"synth:~", KindSynth, "~"},
	} {
		k, p := ParseSpec(c.spec)
		if k != c.kind || p != c.path {
			t.Errorf("%q: %q %q, want %q %q", c.spec, k, p, c.kind, c.path)
		}
	}
	d, err := LoadSynth(synth.Options{Train: 1, Test: 1, Points: 8, Variant: "clean", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := Export(d, filepath.Join(home, "exported"), ExportNPY); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"npy:~/exported", "~/exported"} {
		got, err := Open(spec, Options{})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if got.Train.Len() != d.Train.Len() {
			t.Errorf("%s: %d training samples, want %d", spec, got.Train.Len(), d.Train.Len())
		}
	}
}

// TestUpAxis: synth, ScanObjectNN and ModelNet40's point clouds are y up;
// ModelNet40's meshes, folders and npy files have no known up axis.
func TestUpAxis(t *testing.T) {
	for spec, want := range map[string]string{
		"synth":                              "y",
		"synth:hardest":                      "y",
		td("scanobjectnn"):                   "y",
		"scanobjectnn:" + td("scanobjectnn"): "y",
		td("modelnet40_dat"):                 "y",
		"modelnet40:" + td("modelnet40_dat"): "y",
		td("modelnet40_normal_resampled"):    "y",
		"modelnet40:" + td("ModelNet40"):     "",
		"folder:" + td("ModelNet40"):         "",
		"npy:" + td("nowhere"):               "",
		td("nowhere"):                        "",
	} {
		if got := UpAxis(spec); got != want {
			t.Errorf("UpAxis(%q) = %q, want %q", spec, got, want)
		}
	}
}
