package pointcloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tetra is a small mesh with normals used by the round-trip tests.
func tetra() *Cloud {
	return &Cloud{
		XYZ:     []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1.5},
		Normals: []float32{-1, -1, -1, 1, 0, 0, 0, 1, 0, 0, 0, 1},
		Faces:   []int32{0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3},
	}
}

// odd is a plain cloud whose values need all of float32's digits.
func odd() *Cloud {
	return &Cloud{XYZ: []float32{0.1, -2.5e-7, 3.4028235e38, 1e-45, -0, 123456.79, float32(math.Pi), -1, 7}}
}

func sameCloud(t *testing.T, got, want *Cloud) {
	t.Helper()
	eq := func(a, b []float32) bool {
		if len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if !eq(got.XYZ, want.XYZ) {
		t.Errorf("XYZ = %v, want %v", got.XYZ, want.XYZ)
	}
	if !eq(got.Normals, want.Normals) {
		t.Errorf("Normals = %v, want %v", got.Normals, want.Normals)
	}
	if len(got.Faces) != len(want.Faces) {
		t.Fatalf("Faces = %v, want %v", got.Faces, want.Faces)
	}
	for i := range got.Faces {
		if got.Faces[i] != want.Faces[i] {
			t.Fatalf("Faces = %v, want %v", got.Faces, want.Faces)
		}
	}
}

// wantErr fails unless err is non-nil and its message holds want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one with %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Format
		err  string
	}{
		{"a.ply", PLY, ""},
		{"dir.x/A.PLY", PLY, ""},
		{"chair_0001.off", OFF, ""},
		{"part.Stl", STL, ""},
		{"m.obj", OBJ, ""},
		{"s.xyz", XYZ, ""},
		{"s.xyzn", XYZ, ""},
		{"airplane_0001.txt", XYZ, ""},
		{"s.CSV", XYZ, ""},
		{"s.pts", XYZ, ""},
		{"s.npy", NPY, ""},
		{"s.npz", "", `unknown point-cloud extension ".npz"`},
		{"noext", "", "no file extension"},
	} {
		got, err := FormatOf(tc.path)
		if tc.err != "" {
			wantErr(t, err, tc.err)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
}

func TestRoundTripFiles(t *testing.T) {
	dir := t.TempDir()
	mesh, cloud := tetra(), &Cloud{XYZ: tetra().XYZ, Normals: tetra().Normals}
	for _, tc := range []struct {
		name      string
		in, want  *Cloud
		firstLine string
	}{
		{"m.ply", mesh, mesh, "ply"},
		{"m.off", mesh, mesh, "NOFF"},
		{"m.obj", mesh, mesh, "v 0 0 0"},
		{"m.stl", mesh, &Cloud{XYZ: mesh.XYZ, Faces: mesh.Faces}, ""},
		{"c.xyz", cloud, cloud, "0 0 0 -1 -1 -1"},
		{"c.xyzn", cloud, cloud, "0 0 0 -1 -1 -1"},
		{"c.txt", cloud, cloud, "0,0,0,-1,-1,-1"},
		{"c.csv", mesh, cloud, "0,0,0,-1,-1,-1"},
		{"c.pts", cloud, &Cloud{XYZ: cloud.XYZ}, "4"},
		{"c.npy", mesh, cloud, "\x93NUMPY"},
		{"o.ply", odd(), odd(), "ply"},
		{"o.xyz", odd(), odd(), "0.1 -2.5e-07 3.4028235e+38"},
		{"o.obj", odd(), odd(), "v 0.1"},
		{"o.off", odd(), odd(), "OFF"},
		{"o.npy", odd(), odd(), "\x93NUMPY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := WriteFile(path, tc.in); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), tc.firstLine) {
				t.Errorf("file starts %q, want %q", excerpt(string(data)), tc.firstLine)
			}
			got, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(tc.name, ".stl") {
				sameTriangles(t, got, tc.want) // STL renumbers the points
				return
			}
			sameCloud(t, got, tc.want)
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 15 {
		t.Errorf("%d files in the directory, want 15 (no temporary files left)", len(entries))
	}
}

func TestReadFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		path string
		want string
		is   error
	}{
		{write("empty.off", ""), "empty.off: empty file", nil},
		{write("empty.xyz", "# nothing\n"), "empty.xyz: no points", nil},
		{write("nan.xyz", "1 2 3\nnan 0 0\n"), "nan.xyz: non-finite coordinate: point 1 has NaN", ErrNonFinite},
		{write("zero.ply", "ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\nproperty float z\nend_header\n"), "zero.ply: no points", ErrEmpty},
		{write("bad.obj", "v 0 0 0\nf 1 2 3\n"), "bad.obj: OBJ line 2: face names vertex 3 but there are 1", nil},
		{write("x.unknown", "1 2 3"), `x.unknown: unknown point-cloud extension ".unknown"`, nil},
		{filepath.Join(dir, "missing.ply"), "missing.ply: no such file", nil},
	} {
		_, err := ReadFile(tc.path)
		wantErr(t, err, tc.want)
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%v is not %v", err, tc.is)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		c    *Cloud
		want string
	}{
		{"a.stl", odd(), "STL needs faces"},
		{"a.ply", &Cloud{}, "no points"},
		{"a.ply", &Cloud{XYZ: []float32{0, 0, float32(math.NaN())}}, "non-finite"},
		{"a.ply", &Cloud{XYZ: []float32{0, 0, 0}, Faces: []int32{0, 0, 1}}, "face index out of range"},
		{"a.bin", odd(), "unknown point-cloud extension"},
	} {
		err := WriteFile(filepath.Join(dir, tc.name), tc.c)
		wantErr(t, err, tc.want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files", len(entries))
	}
	wantErr(t, Write(io.Discard, odd(), "vtk"), `unknown format "vtk"`)
	_, err := Read(strings.NewReader("1 2 3"), "vtk")
	wantErr(t, err, `unknown format "vtk"`)
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFileAtomic(path, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("after a failed write the file holds %q", b)
	}
	if err := WriteFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "new")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("file holds %q, want new", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want 1", len(entries))
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no", "such", "dir"), func(io.Writer) error { return nil }); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// TestFixtures reads the files that Open3D and NumPy wrote (see
// scripts/fixtures_formats.py) and checks them against the manifest.
func TestFixtures(t *testing.T) {
	dir := filepath.Join("..", "testdata", "formats")
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]struct {
		Points, Faces int
		Normals       bool
		First, Last   [3]float64
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) < 15 {
		t.Fatalf("manifest lists %d files", len(manifest))
	}
	for name, want := range manifest {
		t.Run(name, func(t *testing.T) {
			c, err := ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != want.Points || c.NumFaces() != want.Faces || (c.Normals != nil) != want.Normals {
				t.Fatalf("%d points, %d faces, normals %v; want %d, %d, %v",
					c.Len(), c.NumFaces(), c.Normals != nil, want.Points, want.Faces, want.Normals)
			}
			for _, p := range []struct {
				i    int
				want [3]float64
			}{{0, want.First}, {c.Len() - 1, want.Last}} {
				got := c.Point(p.i)
				for k := range got {
					if math.Abs(float64(got[k])-p.want[k]) > 1e-5 {
						t.Errorf("point %d = %v, want %v", p.i, got, p.want)
						break
					}
				}
			}
			if c.Normals != nil {
				// Every fixture's normals are unit vectors.
				for i := 0; i < c.Len(); i++ {
					n := c.Normals[3*i : 3*i+3]
					if l := math.Sqrt(float64(n[0]*n[0] + n[1]*n[1] + n[2]*n[2])); math.Abs(l-1) > 1e-4 {
						t.Fatalf("normal %d = %v has length %v", i, n, l)
					}
				}
			}
		})
	}
}

// fuzzReader fuzzes a reader: it must not panic; when it returns a cloud,
// the cloud's shape and faces must be sound (only empty clouds or non-finite
// values may fail Validate); knowing the input's size must not change the
// outcome; and a valid cloud must survive writing in the same format and
// reading back.
func fuzzReader(f *testing.F, format Format, read func(io.Reader, int64) (*Cloud, error), seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := read(bytes.NewReader(data), int64(len(data)))
		checkRaw(t, c, err)
		c2, err2 := read(io.MultiReader(bytes.NewReader(data)), -1)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("size known: %v; size unknown: %v", err, err2)
		}
		if err != nil || c.Validate() != nil {
			return
		}
		sameCloud(t, c2, c)
		var buf bytes.Buffer
		if err := Write(&buf, c, format); err != nil {
			if format == STL && !c.IsMesh() {
				return
			}
			t.Fatalf("writing back: %v", err)
		}
		back, err := Read(&buf, format)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		switch format {
		case STL:
			sameTriangles(t, back, c)
		case XYZ, NPY:
			sameCloud(t, back, &Cloud{XYZ: c.XYZ, Normals: c.Normals})
		default:
			sameCloud(t, back, c)
		}
	})
}

// checkRaw is the property for the readers before Validate.
func checkRaw(t *testing.T, c *Cloud, err error) {
	t.Helper()
	if err != nil {
		if c != nil {
			t.Fatalf("both a cloud and the error %v", err)
		}
		return
	}
	if err := c.Validate(); err != nil && !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrNonFinite) {
		t.Fatalf("reader returned an unsound cloud: %v", err)
	}
}

// sameTriangles checks that two meshes have the same triangles corner by
// corner, whatever the numbering of their points.
func sameTriangles(t *testing.T, got, want *Cloud) {
	t.Helper()
	if got.NumFaces() != want.NumFaces() {
		t.Fatalf("%d faces, want %d", got.NumFaces(), want.NumFaces())
	}
	for i, v := range got.Faces {
		if got.Point(int(v)) != want.Point(int(want.Faces[i])) {
			t.Fatalf("face %d corner %d = %v, want %v", i/3, i%3, got.Point(int(v)), want.Point(int(want.Faces[i])))
		}
	}
}

// UTF-16 text is named as such rather than read as a file without points; a
// UTF-8 byte-order mark is skipped.
func TestTextEncoding(t *testing.T) {
	utf16 := func(s string, big bool, bom bool) string {
		var b []byte
		if bom {
			b = append(b, 0xff, 0xfe)
			if big {
				b[0], b[1] = 0xfe, 0xff
			}
		}
		for _, r := range []byte(s) {
			if big {
				b = append(b, 0, r)
			} else {
				b = append(b, r, 0)
			}
		}
		return string(b)
	}
	const obj = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
	for _, f := range []Format{OBJ, XYZ, OFF, PLY, STL} {
		for _, tc := range []struct {
			data, want string
		}{
			{utf16(obj, false, true), "the file is UTF-16LE text"},
			{utf16(obj, true, true), "the file is UTF-16BE text"},
			{utf16(obj, false, false), "the file is UTF-16LE text"},
			{utf16(obj, true, false), "the file is UTF-16BE text"},
		} {
			_, err := Read(strings.NewReader(tc.data), f)
			wantErr(t, err, tc.want)
		}
	}
	c, err := Read(strings.NewReader("\xef\xbb\xbf"+obj), OBJ)
	if err != nil || c.Len() != 3 || len(c.Faces) != 3 {
		t.Fatalf("OBJ with a UTF-8 byte-order mark: %v", err)
	}
}

// Messages quote at most a short excerpt of a long token.
func TestLongTokensQuotedShort(t *testing.T) {
	long := strings.Repeat("9x", 1<<20)
	for _, tc := range []struct {
		f    Format
		data string
	}{
		{OBJ, "v 0 0 0\nf 1 " + long + " 1\n"},
		{OBJ, "v 0 " + long + " 0\n"},
		{XYZ, "0 " + long + " 0\n"},
		{OFF, "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 " + long + "\n"},
		{PLY, "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 " + long + " 0\n"},
	} {
		_, err := Read(strings.NewReader(tc.data), tc.f)
		if err == nil || len(err.Error()) > 200 {
			t.Errorf("%s: %d-byte message", tc.f, len(fmt.Sprint(err)))
		}
	}
}
