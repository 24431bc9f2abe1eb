package pointcloud

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func readPLYString(s string) (*Cloud, error) {
	return Read(strings.NewReader(s), PLY)
}

func TestPLYRoundTrip(t *testing.T) {
	for _, enc := range []PLYEncoding{PLYBinaryLittleEndian, PLYBinaryBigEndian, PLYASCII} {
		for name, c := range map[string]*Cloud{"mesh": tetra(), "cloud": odd()} {
			t.Run(enc.String()+"/"+name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := WritePLY(&buf, c, PLYOptions{Encoding: enc, Comment: "one\ntwo"}); err != nil {
					t.Fatal(err)
				}
				head := "ply\nformat " + enc.String() + " 1.0\ncomment one\ncomment two\n"
				if !strings.HasPrefix(buf.String(), head) {
					t.Fatalf("header starts %q, want %q", buf.String()[:len(head)], head)
				}
				got, err := Read(&buf, PLY)
				if err != nil {
					t.Fatal(err)
				}
				sameCloud(t, got, c)
			})
		}
	}
}

func TestPLYWriteDefault(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, tetra(), PLY); err != nil {
		t.Fatal(err)
	}
	want := "ply\nformat binary_little_endian 1.0\nelement vertex 4\n" +
		"property float x\nproperty float y\nproperty float z\n" +
		"property float nx\nproperty float ny\nproperty float nz\n" +
		"element face 4\nproperty list uchar int vertex_indices\nend_header\n"
	if !strings.HasPrefix(buf.String(), want) {
		t.Fatalf("header %q, want %q", buf.String()[:len(want)], want)
	}
	if n := buf.Len() - len(want); n != 4*24+4*13 {
		t.Errorf("%d data bytes, want %d", n, 4*24+4*13)
	}
	if err := WritePLY(io.Discard, tetra(), PLYOptions{Encoding: 7}); err == nil {
		t.Error("unknown encoding accepted")
	}
}

const plyASCIIQuad = `ply
format ascii 1.0
comment made by hand
obj_info not a real scanner
element vertex 5
property double x
property double y
property double z
property uchar red
property uchar green
property uchar blue
property list uchar float extra
property float nx
property float ny
property float nz
element face 2
property uchar flags
property list uchar int vertex_indices
property list uchar float texcoord
element material 2
property list int int ids
property float shine
end_header
0 0 0 255 0 0 2 0.5 0.25 0 0 1
1 0 0 0 255 0 0 0 0 1
1 1 0 0 0 255 1 7 0 0 1

0 1 0 9 9 9 0 0 0 1
0.5 0.5 1 1 1 1 3 1 2 3 1 0 0
0 4 0 1 2 3 6 0 0 1 0 1 1
1 3 0 1 4 0
3 1 2 3 0.5
0 1
`

const plyBinaryHeader = `ply
format binary_little_endian 1.0
element vertex 3
property char x
property int16 y
property uint z
property list uint8 int32 skipme
property double nx
property double ny
property double nz
element edge 1
property list ushort uchar pair
element face 1
property list uint uint vertex_index
end_header
`

// plyBinarySample is plyBinaryHeader followed by its data.
func plyBinarySample() string {
	var b []byte
	le := binary.LittleEndian
	for i, v := range [][3]int{{-1, -300, 70000}, {2, 3, 4}, {5, 6, 7}} {
		b = append(b, byte(int8(v[0])))
		b = le.AppendUint16(b, uint16(int16(v[1])))
		b = le.AppendUint32(b, uint32(v[2]))
		b = append(b, 1)
		b = le.AppendUint32(b, 99)
		for k := 0; k < 3; k++ {
			b = le.AppendUint64(b, math.Float64bits(float64(i*3+k)))
		}
	}
	b = le.AppendUint16(b, 2)
	b = append(b, 0, 1)
	b = le.AppendUint32(b, 3)
	for _, v := range []uint32{2, 1, 0} {
		b = le.AppendUint32(b, v)
	}
	return plyBinaryHeader + string(b)
}

func TestPLYSamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want *Cloud
	}{
		{"ascii with skipped properties", plyASCIIQuad, &Cloud{
			XYZ:     []float32{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0.5, 0.5, 1},
			Normals: []float32{0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0},
			Faces:   []int32{0, 1, 2, 0, 2, 3, 0, 1, 4},
		}},
		{"binary with scalar types and skipped lists", plyBinarySample(), &Cloud{
			XYZ:     []float32{-1, -300, 70000, 2, 3, 4, 5, 6, 7},
			Normals: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8},
			Faces:   []int32{2, 1, 0},
		}},
		{"crlf and ply line with spaces", "ply \r\nformat ascii 1.0\r\nelement vertex 1\r\nproperty float32 x\r\nproperty float32 y\r\nproperty float32 z\r\nproperty float nx\r\nend_header\r\n1 2 3 4\r\n",
			&Cloud{XYZ: []float32{1, 2, 3}}},
		{"polygon and short faces", "ply\nformat ascii 1.0\nelement vertex 5\nproperty float x\nproperty float y\nproperty float z\nelement face 3\nproperty list uchar int vertex_indices\nend_header\n" +
			"0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n5 0 1 2 3 4\n2 0 1\n0\n",
			&Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1}, Faces: []int32{0, 1, 2, 0, 2, 3, 0, 3, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPLYString(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			sameCloud(t, got, tc.want)
		})
	}
}

func TestPLYBigEndianByHand(t *testing.T) {
	var b []byte
	b = append(b, "ply\nformat binary_big_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar ushort vertex_indices\nend_header\n"...)
	for _, v := range []float32{1.5, -2, 3, 4, 5, 6, 7, 8, 9} {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
	}
	b = append(b, 3, 0, 0, 0, 2, 0, 1)
	got, err := Read(bytes.NewReader(b), PLY)
	if err != nil {
		t.Fatal(err)
	}
	sameCloud(t, got, &Cloud{XYZ: []float32{1.5, -2, 3, 4, 5, 6, 7, 8, 9}, Faces: []int32{0, 2, 1}})
}

func TestPLYErrors(t *testing.T) {
	head := "ply\nformat ascii 1.0\nelement vertex 100\nproperty float x\nproperty float y\nproperty float z\n"
	face := "element face 1\nproperty list uchar int vertex_indices\n"
	var lines strings.Builder
	for i := 0; i < 37; i++ {
		lines.WriteString("1 2 3\n")
	}
	bin := func(enc string, n int64) string {
		return "ply\nformat " + enc + " 1.0\nelement vertex " + strconv.FormatInt(n, 10) + "\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "empty file: no PLY header"},
		{"magic", "solid x\n", `not a PLY file: it starts with "solid x"`},
		{"no end_header", "ply\nformat ascii 1.0\n", "no end_header"},
		{"no format", "ply\nelement vertex 1\nend_header\n", "no format line"},
		{"bad format", "ply\nformat utf8 1.0\nend_header\n", "unknown encoding"},
		{"unknown keyword", "ply\nformat ascii 1.0\nwhat now\nend_header\n", `PLY header line 3: unknown header keyword: "what now"`},
		{"bad count", "ply\nformat ascii 1.0\nelement vertex -1\nend_header\n", "bad element count"},
		{"bad type", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float128 x\nend_header\n", "unknown property type"},
		{"float list count", "ply\nformat ascii 1.0\nelement vertex 1\nproperty list float int x\nend_header\n", "list count type must be an integer type"},
		{"property first", "ply\nformat ascii 1.0\nproperty float x\nend_header\n", "property before any element"},
		{"twice", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float x\nend_header\n", "property declared twice"},
		{"no vertex", "ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vertex_indices\nend_header\n", "no vertex element"},
		{"no z", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n", "no z property"},
		{"list x", "ply\nformat ascii 1.0\nelement vertex 1\nproperty list uchar float x\nproperty float y\nproperty float z\nend_header\n", "vertex property x is a list"},
		{"no indices", head + "element face 1\nproperty list uchar int corners\nend_header\n", "face element has no vertex_indices"},
		{"scalar indices", head + "element face 1\nproperty int vertex_indices\nend_header\n", "vertex_indices is not a list"},
		{"float indices", head + "element face 1\nproperty list uchar float vertex_indices\nend_header\n", "non-integer items"},
		{"too many", bin("ascii", 1<<40), "more than the 2147483647 pcx can index"},
		{"ascii lying count", head + "end_header\n" + lines.String(), "PLY header promises 100 vertices but the data ends after 37"},
		{"binary lying count", bin("binary_little_endian", 100) + strings.Repeat("\x00", 37*12+5), "PLY header promises 100 vertices but the data ends after 37"},
		{"binary huge count", bin("binary_big_endian", 2000000000) + strings.Repeat("\x00", 12), "PLY header promises 2000000000 vertices but the data ends after 1"},
		{"faces missing", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n" + face + "end_header\n1 2 3\n", "PLY header promises 1 faces but the data ends after 0"},
		{"bad number", bin("ascii", 1) + "1 2 x\n", `PLY line 8 (vertex 0): bad number "x"`},
		{"short line", bin("ascii", 2) + "1 2 3\n1 2\n", "PLY line 9 (vertex 1): 2 values are too few"},
		{"long line", bin("ascii", 1) + "1 2 3 4\n", "4 values but the header's properties take 3"},
		{"index range", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n" + face + "end_header\n1 2 3\n3 0 0 1\n", "PLY face 0 names vertex 1 but there are 1 vertices"},
		{"negative index", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n" + face + "end_header\n1 2 3\n3 0 0 -1\n", "names vertex -1"},
		{"list too long", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n" + face + "end_header\n1 2 3\n4 0 0 0\n", `list vertex_indices of "4" items but 3 values follow`},
		{"other element truncated", "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nelement edge 5\nproperty int a\nend_header\n" + strings.Repeat("\x00", 12+9), `PLY header promises 5 "edge" elements but the data ends after 2`},
		{"binary face list truncated", "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n" + face + "end_header\n" + strings.Repeat("\x00", 12) + "\xff\x00\x00\x00\x00", "PLY header promises 1 faces but the data ends after 0"},
		{"binary lying list count", "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nproperty list uint double junk\nend_header\n" + strings.Repeat("\x00", 12) + "\xff\xff\xff\x7f", "PLY header promises 1 vertices but the data ends after 0"},
		{"nan", bin("ascii", 1) + "nan 0 0\n", "non-finite coordinate"},
		{"empty elements take no time", "ply\nformat binary_little_endian 1.0\nelement nothing 9000000000000000000\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n", "promises 1 vertices but the data ends after 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readPLYString(tc.data)
			wantErr(t, err, tc.want)
		})
	}
}

// TestPLYLyingCountUnknownSize checks that a lying count costs no large
// allocation when the reader cannot tell its size.
func TestPLYLyingCountUnknownSize(t *testing.T) {
	data := "ply\nformat binary_little_endian 1.0\nelement vertex 2000000000\nproperty double x\nproperty double y\nproperty double z\nelement face 2000000000\nproperty list uint int vertex_indices\nend_header\n" + strings.Repeat("\x00", 24*3)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(io.MultiReader(strings.NewReader(data)), PLY)
	runtime.ReadMemStats(&after)
	wantErr(t, err, "promises 2000000000 vertices but the data ends after 3")
	if d := after.TotalAlloc - before.TotalAlloc; d > 8<<20 {
		t.Errorf("reading allocated %d bytes", d)
	}
}

func bigPLY(n int) []byte {
	c := &Cloud{XYZ: make([]float32, 3*n), Normals: make([]float32, 3*n)}
	r := NewRand(1)
	for i := range c.XYZ {
		c.XYZ[i] = r.Float32()
		c.Normals[i] = r.Float32()
	}
	for i := 0; i+2 < n; i++ {
		c.Faces = append(c.Faces, int32(i), int32(i+1), int32(i+2))
	}
	var buf bytes.Buffer
	if err := Write(&buf, c, PLY); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// A large binary mesh reads back exactly; BenchmarkReadPLYBinary times it.
func TestReadBigPLY(t *testing.T) {
	const n = 100000
	data := bigPLY(n)
	c, err := Read(bytes.NewReader(data), PLY)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRand(1)
	for i := range c.XYZ {
		if x, nx := r.Float32(), r.Float32(); c.XYZ[i] != x || c.Normals[i] != nx {
			t.Fatalf("value %d is %v, %v; want %v, %v", i, c.XYZ[i], c.Normals[i], x, nx)
		}
	}
	if c.Len() != n || len(c.Faces) != 3*(n-2) || c.Faces[3*(n-3)+2] != n-1 {
		t.Fatalf("%d points, %d face indices", c.Len(), len(c.Faces))
	}
}

func BenchmarkReadPLYBinary(b *testing.B) {
	data := bigPLY(100000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data), PLY); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReadPLY(f *testing.F) {
	var seeds []string
	for _, enc := range []PLYEncoding{PLYBinaryLittleEndian, PLYBinaryBigEndian, PLYASCII} {
		var buf bytes.Buffer
		WritePLY(&buf, tetra(), PLYOptions{Encoding: enc})
		seeds = append(seeds, buf.String())
	}
	seeds = append(seeds, plyASCIIQuad, plyBinarySample())
	fuzzReader(f, PLY, readPLY, seeds...)
}
