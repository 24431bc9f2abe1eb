package pointcloud

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

const objRelative = `# two squares, the second with relative indices
mtllib squares.mtl
o first
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0 1.0
vt 0 0
vn 0 0 1
usemtl red
s off
f 1/1/1 2/1/1 3/1/1 4/1/1
g second
v 0 0 1
v 1 0 1 0.5 0.5 0.5
v 1 1 1
v 0 1 1
f -4 -3 -2 -1
l 1 2
`

func TestOBJSamples(t *testing.T) {
	tri := []float32{0, 0, 0, 1, 0, 0, 0, 1, 0}
	for _, tc := range []struct {
		name, data string
		want       *Cloud
	}{
		{"relative indices", objRelative, &Cloud{
			XYZ:   []float32{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1},
			Faces: []int32{0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7},
		}},
		{"corner forms", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1 2/1 3//1\nvn 0 0 1\nf 1/1/1 2//1 3/1/1\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2, 0, 1, 2}, Normals: []float32{0, 0, 1, 0, 0, 1, 0, 0, 1}}},
		{"vn paired by index", "v 0 0 0\nvn 1 0 0\nv 1 0 0\nvn 0 1 0\nv 0 1 0\nvn 0 0 1\nf 1//1 2//2 3//3\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}, Normals: []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}}},
		{"vn without faces", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 1 0 0\nvn 0 1 0\nvn 0 0 1\n", &Cloud{XYZ: tri, Normals: []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}}},
		{"vn per corner, first wins", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nvn 0 0 -1\nf 1//1 2//1 3//1\nf 1//2 3//2 2//2\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2, 0, 2, 1}, Normals: []float32{0, 0, 1, 0, 0, 1, 0, 0, 1}}},
		{"vn on some points only", "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 5 5 5\nvn 0 0 1\nf 1//1 2//1 3//1\n", &Cloud{XYZ: append(append([]float32{}, tri...), 5, 5, 5), Faces: []int32{0, 1, 2}}},
		{"vn count differs, no faces", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\n", &Cloud{XYZ: tri}},
		{"forward reference", "v 0 0 0\nf 1 2 3\nv 1 0 0\nv 0 1 0\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
		{"short faces dropped, crlf, tabs", "v\t0 0 0\r\nv 1 0 0\r\nv 0 1 0\r\nf 1 2\r\nf 1 2 3\r\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(strings.NewReader(tc.data), OBJ)
			if err != nil {
				t.Fatal(err)
			}
			sameCloud(t, got, tc.want)
		})
	}
}

func TestOBJWrite(t *testing.T) {
	var buf bytes.Buffer
	c := &Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 0, 1, 0}, Normals: []float32{0, 0, 1, 0, 0, 1, 0, 0, 1}, Faces: []int32{0, 1, 2}}
	if err := Write(&buf, c, OBJ); err != nil {
		t.Fatal(err)
	}
	want := "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\nf 1//1 2//2 3//3\n"
	if buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
	buf.Reset()
	c.Normals = nil
	Write(&buf, c, OBJ)
	if want := "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"; buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
}

func TestOBJErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "no points"},
		{"short v", "v 1 2\n", "OBJ line 1: v needs x, y and z"},
		{"bad v", "# c\nv 1 2 z\n", `OBJ line 2: bad number "z"`},
		{"short vn", "v 1 2 3\nvn 1\n", "OBJ line 2: vn needs x, y and z"},
		{"index zero", "v 0 0 0\nf 0 1 1\n", `OBJ line 2: face corner "0": index 0 (OBJ counts from 1)`},
		{"bad index", "v 0 0 0\nf 1 a 1\n", `OBJ line 2: face corner "a": bad index "a"`},
		{"range", "v 0 0 0\nv 1 0 0\nf 1 2 3\nf 1 2 9\nf 1 2 4\n", "OBJ line 4: face names vertex 9 but there are 2"},
		{"relative range", "v 0 0 0\nv 1 0 0\nf -1 -2 -3\n", `OBJ line 3: face corner "-3": relative index -3 reaches before the first of 2`},
		{"normal range", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//1 2//1 3//2\n", "OBJ line 5: face names normal 2 but there are 1"},
		{"normal zero", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//0 2 3\n", `OBJ line 5: face corner "1//0": normal index 0`},
		{"nan", "v nan 0 0\n", "non-finite coordinate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.data), OBJ)
			wantErr(t, err, tc.want)
		})
	}
}

func FuzzReadOBJ(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, tetra(), OBJ)
	fuzzReader(f, OBJ, func(r io.Reader, _ int64) (*Cloud, error) { return readOBJ(r) },
		objRelative, buf.String(), "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nvn 0 0 -1\nf 1//1 2//1 3//1\nf 1//2 3//2 2//2\n")
}
