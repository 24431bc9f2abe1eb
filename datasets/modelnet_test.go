package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadModelNet40Dat(t *testing.T) {
	exp := loadExpected(t)
	train := exp.Dat["modelnet40_dat/modelnet40_train_8192pts_fps.dat"]
	test := exp.Dat["modelnet40_dat/modelnet40_test_8192pts_fps.dat"]

	// Raw: exactly what the pickle holds.
	d, err := LoadModelNet40(td("modelnet40_dat"), ModelNetOptions{Raw: true, Normals: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "modelnet40" || len(d.Classes) != 40 || d.Classes[23] != "night_stand" {
		t.Fatalf("name %q classes %v", d.Name, d.Classes)
	}
	checkDat(t, d.Train, train.Shape, train.Labels, train.XYZSum, train.NormalSum, train.Last)
	checkDat(t, d.Test, test.Shape, test.Labels, test.XYZSum, test.NormalSum, test.Last)

	// Point-MAE's way: first 16 points, then pc_normalize; normals dropped.
	d, err = LoadModelNet40(td("modelnet40_dat"), ModelNetOptions{Points: 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Train.Normals != nil {
		t.Error("normals kept without Normals")
	}
	p := d.Train.Points[0]
	if len(p) != 48 {
		t.Fatalf("sample has %d values, want 48", len(p))
	}
	for k := 0; k < 3; k++ {
		if !near(float64(p[k]), train.Normalized16First[k], 1e-6) {
			t.Fatalf("first point %v, want %v", p[:3], train.Normalized16First)
		}
	}
	if got := absSum(p); !near(got, train.Normalized16Abs, 1e-6) {
		t.Fatalf("abs sum %v, want %v", got, train.Normalized16Abs)
	}

	_, err = LoadModelNet40(td("modelnet40_dat"), ModelNetOptions{Points: 33})
	wantErr(t, err, "sample 0 has 32 points, fewer than the 33 asked for")
}

func TestLoadModelNet40Txt(t *testing.T) {
	exp := loadExpected(t)
	for _, root := range []string{td("modelnet40_normal_resampled"), testdata} {
		d, err := LoadModelNet40(root, ModelNetOptions{Layout: ModelNetTxt, Normals: true, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(d.Classes, ",") != "airplane,chair,night_stand" {
			t.Fatalf("classes %v", d.Classes)
		}
		for _, sp := range []struct {
			name string
			s    *Split
		}{{"train", d.Train}, {"test", d.Test}} {
			want := exp.Txt[sp.name]
			if sp.s.Len() != len(want) || sp.s.Normals == nil {
				t.Fatalf("%s: %d samples (normals %v), want %d", sp.name, sp.s.Len(), sp.s.Normals != nil, len(want))
			}
			for i, w := range want {
				if len(sp.s.Points[i]) != 3*w.Points {
					t.Fatalf("%s %s: %d values", sp.name, w.Item, len(sp.s.Points[i]))
				}
				if got := absSum(sp.s.Points[i]); !near(got, w.NormalizedAbs, 1e-5) {
					t.Fatalf("%s %s: abs sum %v, want %v", sp.name, w.Item, got, w.NormalizedAbs)
				}
				cls := w.Item[:strings.LastIndex(w.Item, "_")]
				if d.Classes[sp.s.Labels[i]] != cls {
					t.Fatalf("%s %s: label %d", sp.name, w.Item, sp.s.Labels[i])
				}
			}
		}
	}
	// Raw keeps the file's numbers.
	d, err := LoadModelNet40(td("modelnet40_normal_resampled"), ModelNetOptions{Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range exp.Txt["train"] {
		if got := sum(d.Train.Points[i]); !near(got, w.Sum, 1e-6) {
			t.Fatalf("%s: sum %v, want %v", w.Item, got, w.Sum)
		}
	}
	// The result does not depend on the number of workers.
	one, err := LoadModelNet40(td("modelnet40_normal_resampled"), ModelNetOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	many, err := LoadModelNet40(td("modelnet40_normal_resampled"), ModelNetOptions{Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSplit(one.Train, many.Train) || !sameSplit(one.Test, many.Test) {
		t.Fatal("result depends on the worker count")
	}
}

func sameSplit(a, b *Split) bool {
	if a.Len() != b.Len() || !equalInts(a.Labels, b.Labels) || (a.Normals == nil) != (b.Normals == nil) {
		return false
	}
	for i := range a.Points {
		if len(a.Points[i]) != len(b.Points[i]) {
			return false
		}
		for k := range a.Points[i] {
			if a.Points[i][k] != b.Points[i][k] {
				return false
			}
		}
		if a.Normals != nil {
			for k := range a.Normals[i] {
				if a.Normals[i][k] != b.Normals[i][k] {
					return false
				}
			}
		}
	}
	return true
}

func TestLoadModelNet40Mesh(t *testing.T) {
	for _, root := range []string{td("ModelNet40"), testdata} {
		d, err := LoadModelNet40(root, ModelNetOptions{Layout: ModelNetMesh, Points: 100, Seed: 3, Normals: true})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(d.Classes, ",") != "box,cone" || d.Train.Len() != 4 || d.Test.Len() != 2 {
			t.Fatalf("classes %v, %d train, %d test", d.Classes, d.Train.Len(), d.Test.Len())
		}
		if !equalInts(d.Train.Labels, []int{0, 0, 1, 1}) || !equalInts(d.Test.Labels, []int{0, 1}) {
			t.Fatalf("labels %v %v", d.Train.Labels, d.Test.Labels)
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Train.Points {
			if len(p) != 300 {
				t.Fatalf("sample of %d values", len(p))
			}
			maxR := 0.0
			for i := 0; i < len(p); i += 3 {
				maxR = max(maxR, float64(p[i]*p[i]+p[i+1]*p[i+1]+p[i+2]*p[i+2]))
			}
			if !near(maxR, 1, 1e-5) {
				t.Fatalf("normalised sample has radius² %v", maxR)
			}
		}
	}
	// Detection picks the mesh tree under the root and defaults the count.
	d, err := LoadModelNet40(td("ModelNet40"), ModelNetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Train.Points[0]) != 3*DefaultMeshPoints {
		t.Fatalf("default mesh sample has %d values", len(d.Train.Points[0]))
	}
}

func TestDetectModelNet(t *testing.T) {
	cases := []struct {
		root, want, layout string
	}{
		{td("modelnet40_dat"), "", ModelNetDat},
		{td("modelnet40_normal_resampled"), "", ModelNetTxt},
		{td("ModelNet40"), "", ModelNetMesh},
		{testdata, "", ModelNetTxt}, // modelnet40_normal_resampled/ comes first
		{testdata, ModelNetMesh, ModelNetMesh},
	}
	for _, c := range cases {
		layout, _, err := detectModelNet(c.root, c.want)
		if err != nil || layout != c.layout {
			t.Errorf("%s %q: %q %v, want %q", c.root, c.want, layout, err, c.layout)
		}
	}
	_, _, err := detectModelNet(td("h5"), "")
	wantErr(t, err, "h5: no ModelNet40 data found")
	_, _, err = detectModelNet(td("modelnet40_dat"), ModelNetTxt)
	wantErr(t, err, "no ModelNet40 txt layout found")
	_, _, err = detectModelNet(td("modelnet40_dat"), "zip")
	wantErr(t, err, `unknown ModelNet40 layout "zip"`)
	_, _, err = detectModelNet(td("nowhere"), "")
	wantErr(t, err, "nowhere", "no such file")
}

// makeTxtTree writes a small modelnet40_normal_resampled tree and returns
// its root; files maps relative paths to contents and overrides defaults.
func makeTxtTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	def := map[string]string{
		"modelnet40_shape_names.txt":       "cup\nnight_stand\n",
		"modelnet40_train.txt":             "cup_0001\nnight_stand_0001\n",
		"modelnet40_test.txt":              "night_stand_0002\n",
		"cup/cup_0001.txt":                 "0,0,0,0,0,1\n1,0,0,0,0,1\n",
		"night_stand/night_stand_0001.txt": "0,0,0,0,0,1\n0,1,0,0,0,1\n",
		"night_stand/night_stand_0002.txt": "0,0,0,0,0,1\n0,0,1,0,0,1\n",
	}
	for k, v := range files {
		def[k] = v
	}
	for k, v := range def {
		if v == "<none>" {
			continue
		}
		writeFile(t, filepath.Join(root, k), v)
	}
	return root
}

func TestLoadModelNet40TxtBad(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		parts []string
	}{
		{"good", nil, nil},
		{"crlf and blank lines", map[string]string{"modelnet40_train.txt": "cup_0001\r\n\r\nnight_stand_0001\r\n"}, nil},
		{"missing test list", map[string]string{"modelnet40_test.txt": "<none>"}, []string{"modelnet40_test.txt: missing"}},
		{"missing train list", map[string]string{"modelnet40_train.txt": "<none>"}, []string{"modelnet40_train.txt: missing"}},
		{"unknown class", map[string]string{"modelnet40_train.txt": "cup_0001\nsofa_0001\n"}, []string{"modelnet40_train.txt:2: item \"sofa_0001\" names unknown class \"sofa\""}},
		{"no underscore", map[string]string{"modelnet40_test.txt": "cup\n"}, []string{"modelnet40_test.txt:1: item \"cup\" has no <class>_<number> form"}},
		{"path in item", map[string]string{"modelnet40_test.txt": "../cup_0001\n"}, []string{"modelnet40_test.txt:1: \"../cup_0001\" is not a usable item name"}},
		{"empty list", map[string]string{"modelnet40_test.txt": "\n\n"}, []string{"modelnet40_test.txt: no items"}},
		{"duplicate class", map[string]string{"modelnet40_shape_names.txt": "cup\nnight_stand\ncup\n"}, []string{"modelnet40_shape_names.txt:3: class \"cup\" already named on line 1"}},
		{"binary names", map[string]string{"modelnet40_shape_names.txt": "cup\x00\n"}, []string{"modelnet40_shape_names.txt: not a text file"}},
		{"missing sample", map[string]string{"cup/cup_0001.txt": "<none>"}, []string{"cup_0001.txt", "no such file"}},
		{"short line", map[string]string{"cup/cup_0001.txt": "0,0,0,0,0,1\n1,0,0,0,1\n"}, []string{"cup_0001.txt:2: 5 numbers, want 6 like the lines above"}},
		{"bad first line", map[string]string{"cup/cup_0001.txt": "1,2\n"}, []string{"cup_0001.txt:1: 2 numbers, want 6 (x,y,z,nx,ny,nz) or 3 (x,y,z)"}},
		{"not a number", map[string]string{"cup/cup_0001.txt": "0,0,0,0,0,1\n1,x,0,0,0,1\n"}, []string{"cup_0001.txt:2: \"x\" is not a number"}},
		{"nan", map[string]string{"cup/cup_0001.txt": "0,0,0,0,0,1\n1,nan,0,0,0,1\n"}, []string{"cup_0001.txt:2: non-finite coordinate nan"}},
		{"inf normal", map[string]string{"cup/cup_0001.txt": "0,0,0,0,0,1\n1,0,0,0,0,inf\n"}, []string{"cup_0001.txt:2: non-finite normal inf"}},
		{"overflow", map[string]string{"cup/cup_0001.txt": "0,0,0,0,0,1\n1e39,0,0,0,0,1\n"}, []string{"cup_0001.txt:2: non-finite coordinate 1e39"}},
		{"empty sample", map[string]string{"cup/cup_0001.txt": "\n"}, []string{"cup_0001.txt: no points"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := makeTxtTree(t, c.files)
			d, err := LoadModelNet40(root, ModelNetOptions{})
			if c.parts == nil {
				if err != nil {
					t.Fatal(err)
				}
				if d.Train.Len() != 2 || d.Test.Len() != 1 {
					t.Fatalf("%d train, %d test", d.Train.Len(), d.Test.Len())
				}
				return
			}
			wantErr(t, err, c.parts...)
		})
	}
}

func TestParseModelNetTxtColumns(t *testing.T) {
	xyz, nrm, err := parseModelNetTxt("a.txt", []byte("1 2 3\n4\t5 6\r\n\n"))
	if err != nil || nrm != nil || len(xyz) != 6 || xyz[5] != 6 {
		t.Fatalf("%v %v %v", xyz, nrm, err)
	}
	xyz, nrm, err = parseModelNetTxt("a.txt", []byte("1, 2, 3, 0, 0, 1"))
	if err != nil || len(nrm) != 3 || nrm[2] != 1 || xyz[0] != 1 {
		t.Fatalf("%v %v %v", xyz, nrm, err)
	}
}

func TestReadModelNetLists(t *testing.T) {
	l, err := ReadModelNetLists(td("modelnet40_normal_resampled"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Classes) != 3 || len(l.Train) != 6 || len(l.Test) != 3 {
		t.Fatalf("%+v", l)
	}
	if l.Train[4] != (ModelNetItem{Name: "night_stand_0001", Class: 2}) {
		t.Fatalf("item %+v", l.Train[4])
	}
	_, err = ReadModelNetLists(td("modelnet40_dat"))
	wantErr(t, err, "modelnet40_shape_names.txt: missing")
}

// FuzzReadModelNetLists feeds arbitrary shape-name and split-list files to
// the list parsers: they must return items naming known classes, or an
// error, never a panic.
func FuzzReadModelNetLists(f *testing.F) {
	names, _ := os.ReadFile(td("modelnet40_normal_resampled", "modelnet40_shape_names.txt"))
	train, _ := os.ReadFile(td("modelnet40_normal_resampled", "modelnet40_train.txt"))
	f.Add(names, train)
	f.Add([]byte("a\nb_c\n"), []byte("b_c_0001\na_1\r\n"))
	f.Add([]byte("x\n"), []byte("../x_1\n"))
	f.Fuzz(func(t *testing.T, names, list []byte) {
		classes, err := parseShapeNames("names.txt", names)
		if err != nil {
			return
		}
		index := map[string]int{}
		for i, c := range classes {
			if !safeName(c) {
				t.Fatalf("unsafe class name %q accepted", c)
			}
			index[c] = i
		}
		items, err := parseSplitList("list.txt", list, index)
		if err != nil {
			return
		}
		for _, it := range items {
			if it.Class < 0 || it.Class >= len(classes) || !safeName(it.Name) ||
				!strings.HasPrefix(it.Name, classes[it.Class]+"_") {
				t.Fatalf("bad item %+v", it)
			}
		}
	})
}

// FuzzParseModelNetTxt feeds arbitrary sample files to the text parser.
func FuzzParseModelNetTxt(f *testing.F) {
	data, _ := os.ReadFile(td("modelnet40_normal_resampled", "chair", "chair_0001.txt"))
	f.Add(data)
	f.Add([]byte("1 2 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		xyz, nrm, err := parseModelNetTxt("f.txt", data)
		if err != nil {
			return
		}
		if err := checkSample(xyz); err != nil {
			t.Fatal(err)
		}
		if nrm != nil && (len(nrm) != len(xyz) || nonFinite(nrm) != "") {
			t.Fatal("bad normals")
		}
	})
}

// Text files in UTF-16 are named as such; a UTF-8 byte-order mark is
// skipped rather than made part of the first name or number; long lines
// are quoted short.
func TestTextFilesEncoding(t *testing.T) {
	le := func(s string) []byte {
		b := []byte{0xff, 0xfe}
		for _, c := range []byte(s) {
			b = append(b, c, 0)
		}
		return b
	}
	_, err := parseShapeNames("names.txt", le("airplane\nbathtub\n"))
	wantErr(t, err, "names.txt: the file is UTF-16LE text")
	_, _, err = parseModelNetTxt("a.txt", le("1 2 3\n")[2:])
	wantErr(t, err, "a.txt: the file is UTF-16LE text")

	names, err := parseShapeNames("names.txt", []byte("\xef\xbb\xbfairplane\nbathtub\n"))
	if err != nil || len(names) != 2 || names[0] != "airplane" {
		t.Fatalf("names %q, %v", names, err)
	}
	xyz, _, err := parseModelNetTxt("a.txt", []byte("\xef\xbb\xbf1 2 3\n"))
	if err != nil || len(xyz) != 3 || xyz[0] != 1 {
		t.Fatalf("xyz %v, %v", xyz, err)
	}

	long := strings.Repeat("x/", 1<<20)
	_, err = parseShapeNames("names.txt", []byte(long))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("long class line: %d-byte message", len(fmt.Sprint(err)))
	}
	_, _, err = parseModelNetTxt("a.txt", []byte("1 2 "+strings.Repeat("z", 1<<20)))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("long number: %d-byte message", len(fmt.Sprint(err)))
	}
}
