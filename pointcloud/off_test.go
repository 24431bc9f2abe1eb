package pointcloud

import (
	"bytes"
	"strings"
	"testing"
)

const offCube = `OFF
# a unit cube as six quads
8 6 12
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 1 2 6 5
4 2 3 7 6
4 3 0 4 7
`

func TestOFFSamples(t *testing.T) {
	tri := []float32{0, 0, 0, 1, 0, 0, 0, 1, 0}
	for _, tc := range []struct {
		name, data string
		want       *Cloud
	}{
		{"glued header", "OFF490 518 0\n", nil}, // checked below for its counts
		{"glued small", "OFF3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
		{"counts on header line", "OFF 3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
		{"no edge count, comments, blank lines", "# hi\nOFF # trailing\n\n3 1\n0 0 0 # first\n1 0 0\n\n0 1 0\n3 2 1 0\n", &Cloud{XYZ: tri, Faces: []int32{2, 1, 0}}},
		{"face colours", "COFF\n3 1 0\n0 0 0 255 0 0 255\n1 0 0 0 255 0 255\n0 1 0 0 0 255 255\n3 0 1 2 0.5 0.5 0.5 1\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
		{"normals", "NOFF\n3 0 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 -1\n", &Cloud{XYZ: tri, Normals: []float32{0, 0, 1, 0, 0, 1, 0, 0, -1}}},
		{"colours and normals", "CNOFF\n3 0 0\n0 0 0 0 0 1 1 1 1 1\n1 0 0 0 0 1 1 1 1 1\n0 1 0 0 0 -1 1 1 1 1\n", &Cloud{XYZ: tri, Normals: []float32{0, 0, 1, 0, 0, 1, 0, 0, -1}}},
		{"texture prefix", "STOFF\n3 1 0\n0 0 0 0 0\n1 0 0 1 0\n0 1 0 0 1\n3 0 1 2\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
		{"headerless", "3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
		{"crlf", "OFF\r\n3 1 0\r\n0 0 0\r\n1 0 0\r\n0 1 0\r\n3 0 1 2\r\n", &Cloud{XYZ: tri, Faces: []int32{0, 1, 2}}},
		{"quads, pentagon, short faces", "OFF\n5 3 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n5 0 1 2 3 4\n2 0 1\n1 4\n",
			&Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1}, Faces: []int32{0, 1, 2, 0, 2, 3, 0, 3, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readOFF(strings.NewReader(tc.data), -1)
			if tc.want == nil {
				// The glued header of ModelNet40's files: counts read, data missing.
				wantErr(t, err, "OFF header promises 490 vertices but the data ends after 0")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameCloud(t, got, tc.want)
		})
	}
	cube, err := Read(strings.NewReader(offCube), OFF)
	if err != nil {
		t.Fatal(err)
	}
	if cube.Len() != 8 || cube.NumFaces() != 12 {
		t.Errorf("cube: %d points, %d faces", cube.Len(), cube.NumFaces())
	}
}

func TestOFFErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "empty file: no OFF header"},
		{"only comments", "# nothing\n\n", "empty file: no OFF header"},
		{"not off", "ply\nformat ascii 1.0\n", `not an OFF file: it starts with "ply"`},
		{"unknown prefix", "XOFF\n1 0 0\n", `unknown header "XOFF"`},
		{"4d", "4OFF\n1 0 0\n", `OFF variant "4OFF" (4D or n-dimensional) is not supported`},
		{"no counts", "OFF\n", "OFF file ends before its counts line"},
		{"one count", "OFF\n3\n", `OFF line 2: want "vertices faces [edges]" counts, got "3"`},
		{"bad count", "OFF\n3 x 0\n", `OFF line 2: bad face count "x"`},
		{"negative count", "OFF -3 1 0\n", `bad vertex count "-3"`},
		{"huge count", "OFF\n9999999999 0 0\n", "more than the 2147483647 pcx can index"},
		{"lying vertices", "OFF\n100 0 0\n" + strings.Repeat("1 2 3\n", 37), "OFF header promises 100 vertices but the data ends after 37"},
		{"lying faces", "OFF\n3 5 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "OFF header promises 5 faces but the data ends after 1"},
		{"short vertex", "OFF\n2 0 0\n0 0 0\n1 0\n", "OFF line 4: vertex 1 has 2 values, want 3"},
		{"short normal", "NOFF\n1 0 0\n0 0 0 1\n", "OFF line 3: vertex 0 has 4 values, want 6"},
		{"bad number", "OFF\n1 0 0\n0 zero 0\n", `OFF line 3: vertex 0: bad number "zero"`},
		{"overflow", "OFF\n1 0 0\n0 1e39 0\n", `number "1e39" is out of float32 range`},
		{"bad polygon size", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\nthree 0 1 2\n", `OFF line 6: face 0: bad polygon size "three"`},
		{"too few indices", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", "OFF line 6: face 0 lists 4 vertices but only 3 values follow"},
		{"bad index", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2.0\n", `OFF line 6: face 0: bad vertex index "2.0"`},
		{"index range", "OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n3 0 1 3\n", "OFF line 7: face 1 names vertex 3 but there are 3 vertices"},
		{"negative index", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 -1 2\n", "names vertex -1"},
		{"no points", "OFF\n0 0 0\n", "no points"},
		{"nan", "OFF\n1 0 0\nnan 0 0\n", "non-finite coordinate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.data), OFF)
			wantErr(t, err, tc.want)
		})
	}
}

func FuzzReadOFF(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, tetra(), OFF)
	fuzzReader(f, OFF, readOFF, offCube, buf.String(), "OFF3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 1 1 1\n",
		"CNOFF\n3 0 0\n0 0 0 0 0 1 1 1 1 1\n1 0 0 0 0 1 1 1 1 1\n0 1 0 0 0 -1 1 1 1 1\n")
}
