package pointcloud

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

const xyzModelNet = `0.208700,0.221100,0.565600,0.837600,-0.019280,0.545900
0.404300,0.080140,0.689700,0.377200,-0.102500,0.920400
-0.043350,-0.043800,-0.493300,-0.011820,-0.005512,-0.999900
`

func TestXYZSamples(t *testing.T) {
	two := []float32{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		name, data string
		normals    bool // as for a file not named .pts
		want       *Cloud
	}{
		{"modelnet", xyzModelNet, true, &Cloud{
			XYZ:     []float32{0.2087, 0.2211, 0.5656, 0.4043, 0.08014, 0.6897, -0.04335, -0.0438, -0.4933},
			Normals: []float32{0.8376, -0.01928, 0.5459, 0.3772, -0.1025, 0.9204, -0.01182, -0.005512, -0.9999},
		}},
		{"spaces and tabs", "1 2 3\n\t4\t5  6 \n", true, &Cloud{XYZ: two}},
		{"semicolons, comments, blank lines", "# points\n1;2;3\n\n4 ; 5;6 # last\n", true, &Cloud{XYZ: two}},
		{"header line", "x,y,z\n1,2,3\n4,5,6\n", true, &Cloud{XYZ: two}},
		{"header line with normals", "X Y Z NX NY NZ\n1 2 3 0 0 1\n4 5 6 0 1 0\n", true, &Cloud{XYZ: two, Normals: []float32{0, 0, 1, 0, 1, 0}}},
		{"four columns", "1 2 3 0.5\n4 5 6 0.25\n", true, &Cloud{XYZ: two}},
		{"seven columns", "1 2 3 0 0 1 9\n4 5 6 0 1 0 9\n", true, &Cloud{XYZ: two, Normals: []float32{0, 0, 1, 0, 1, 0}}},
		{"pts count and colours", "2\n1 2 3 -100 255 0 0\n4 5 6 -90 0 255 0\n", false, &Cloud{XYZ: two}},
		{"trailing comma, crlf", "1,2,3,\r\n4,5,6,\r\n", true, &Cloud{XYZ: two}},
		{"no final newline", "1 2 3\n4 5 6", true, &Cloud{XYZ: two}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readXYZ(strings.NewReader(tc.data), tc.normals)
			if err != nil {
				t.Fatal(err)
			}
			sameCloud(t, got, tc.want)
		})
	}
}

func TestXYZWrite(t *testing.T) {
	c := &Cloud{XYZ: []float32{1, 2, 3, 0.5, -0.25, 1e-8}, Normals: []float32{0, 0, 1, 0, 1, 0}}
	for _, tc := range []struct {
		write func(io.Writer) error
		want  string
	}{
		{func(w io.Writer) error { return Write(w, c, XYZ) }, "1 2 3 0 0 1\n0.5 -0.25 1e-08 0 1 0\n"},
		{func(w io.Writer) error { return writeXYZ(w, c, ',', true) }, "1,2,3,0,0,1\n0.5,-0.25,1e-08,0,1,0\n"},
		{func(w io.Writer) error { return writeXYZ(w, c, ' ', false) }, "1 2 3\n0.5 -0.25 1e-08\n"},
	} {
		var buf bytes.Buffer
		if err := tc.write(&buf); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("wrote %q, want %q", buf.String(), tc.want)
		}
	}
}

func TestXYZErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "no points: the file has no data lines"},
		{"header only", "x y z\n", "no points: the file has no data lines"},
		{"two columns", "1 2\n", "line 1: 2 values, want at least x, y and z"},
		{"inconsistent", "# xyz\n1 2 3\n4 5 6\n7 8 9 10\n", "line 4: 4 values, but line 2 has 3"},
		{"second header", "x y z\n1 2 3\nx y z\n", `line 3: bad number "x"`},
		{"bad normal", "1 2 3 a b c\n", `line 1: bad number "a"`},
		{"empty field", "1,,2,3\n", "line 1: empty value between separators"},
		{"overflow", "1 2 3e40\n", `line 1: number "3e40" is out of float32 range`},
		{"inf", "1 2 3\ninf 0 0\n", "non-finite coordinate: point 1 has +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.data), XYZ)
			wantErr(t, err, tc.want)
		})
	}
}

func FuzzReadXYZ(f *testing.F) {
	fuzzReader(f, XYZ, func(r io.Reader, _ int64) (*Cloud, error) { return readXYZ(r, true) },
		xyzModelNet, "x y z\n1 2 3\n4 5 6\n", "2\n1 2 3 -100 255 0 0\n4 5 6 -90 0 255 0\n", "1;2;3\n\n4 ; 5;6 # last\n")
}
