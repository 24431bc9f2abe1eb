package pointcloud

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"strings"
	"testing"
)

const stlSquareTab = "solid\tsquare\n" +
	"  facet normal 0 0 1\n    outer loop\n      vertex 0 0 0\n      vertex 1 0 0\n      vertex 1 1 0\n    endloop\n  endfacet\n" +
	"  facet normal 0 0 1\n    outer loop\n      vertex 0 0 0\n      vertex 1 1 0\n      vertex 0 1 0\n    endloop\n  endfacet\n" +
	"endsolid\tsquare\n"

const stlTwoSolids = "solid a\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid a\n" +
	"solid b\r\nfacet normal 0 0 -1\r\nouter loop\r\nvertex 0 0 0\r\nvertex 0 1 0\r\nvertex 0 0 1\r\nendloop\r\nendfacet\r\nendsolid b\r\n"

// stlBinary returns a binary STL of the triangles, with an 80-byte header
// that starts with head.
func stlBinary(head string, tris ...[9]float32) string {
	b := make([]byte, 80, 84+50*len(tris))
	copy(b, head)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tris)))
	for _, t := range tris {
		b = append(b, make([]byte, 12)...) // normal
		for _, v := range t {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		b = append(b, 0, 0)
	}
	return string(b)
}

func TestSTLSamples(t *testing.T) {
	square := &Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0}, Faces: []int32{0, 1, 2, 0, 2, 3}}
	t1 := [9]float32{0, 0, 0, 1, 0, 0, 1, 1, 0}
	t2 := [9]float32{0, 0, 0, 1, 1, 0, 0, 1, 0}
	for _, tc := range []struct {
		name, data string
		want       *Cloud
	}{
		{"ascii solid tab", stlSquareTab, square},
		{"ascii two solids", stlTwoSolids, &Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, Faces: []int32{0, 1, 2, 0, 2, 3}}},
		{"ascii no name, no endsolid, upper case, quad facet", "SOLID\nFACET NORMAL 0 0 1\nOUTER LOOP\nVERTEX 0 0 0\nVERTEX 1 0 0\nVERTEX 1 1 0\nVERTEX 0 1 0\nENDLOOP\nENDFACET\n", square},
		{"ascii facet without normal or loop", "solid x\nfacet\nvertex 0 0 0\nvertex 1 0 0\nvertex 1 1 0\nendfacet\nfacet\nvertex 0 0 0\nvertex 1 1 0\nvertex 0 1 0\nendfacet\nendsolid\n", square},
		{"binary", stlBinary("pcx", t1, t2), square},
		{"binary header says solid", stlBinary("solid but binary", t1, t2), square},
		{"binary trailing bytes", stlBinary("pcx", t1, t2) + "\x00\x00\x00", square},
		{"negative zero merges", stlBinary("pcx", t1, [9]float32{float32(negZero), 0, 0, 1, 1, 0, 0, 1, 0}), square},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(strings.NewReader(tc.data), STL)
			if err != nil {
				t.Fatal(err)
			}
			sameCloud(t, got, tc.want)
		})
	}
}

var negZero = math.Copysign(0, -1)

func TestSTLWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, tetra(), STL); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 84+50*4 {
		t.Fatalf("%d bytes, want %d", buf.Len(), 84+50*4)
	}
	// The first face (0, 2, 1) lies in z = 0 and faces down.
	normal := buf.Bytes()[84 : 84+12]
	if got := binary.LittleEndian.Uint32(normal[8:]); math.Float32frombits(got) != -1 {
		t.Errorf("first normal z = %v, want -1", math.Float32frombits(got))
	}
	got, err := Read(&buf, STL)
	if err != nil {
		t.Fatal(err)
	}
	sameTriangles(t, got, tetra())
}

func TestSTLErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "empty file: no STL data"},
		{"count below the data", func() string {
			two := stlBinary("pcx", [9]float32{0, 0, 0, 1, 0, 0, 0, 1, 0}, [9]float32{0, 0, 1, 1, 0, 1, 0, 1, 1})
			return two[:80] + "\x01\x00\x00\x00" + two[84:]
		}(), "binary STL header says 1 triangles but the file holds 50 more bytes, room for 1 more triangles: the count and the data disagree"},
		{"short", "\x01\x02\x03", "STL file of 3 bytes is too short for a binary header"},
		{"lying count", stlBinary("pcx", [9]float32{})[:84+50-7], "binary STL header promises 1 triangles (134 bytes) but the file has 127 bytes"},
		{"huge count", strings.Repeat("\x00", 80) + "\xff\xff\xff\xff", "promises 4294967295 triangles"},
		{"no triangles", stlBinary("pcx"), "no points"},
		{"vertex outside facet", "solid x\nvertex 0 0 0\n", "STL line 2: vertex outside a facet"},
		{"two vertex facet", "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\nendfacet\n", "STL line 7: facet has 2 vertices, want at least 3"},
		{"unfinished facet", "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n", "STL file ends inside the facet that starts on line 2"},
		{"nested facet", "solid x\nfacet\nfacet\n", "STL line 3: facet inside the facet that starts on line 2"},
		{"endsolid in facet", "solid x\nfacet\nendsolid x\n", "STL line 3: endsolid inside the facet"},
		{"bad number", "solid x\nfacet\nvertex 0 O 0\n", `STL line 3: bad number "O"`},
		{"short vertex", "solid x\nfacet\nvertex 0 0\n", `STL line 3: want "vertex x y z"`},
		{"unknown word", "solid x\nfacet\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendfacet\ncolor 1 0 0\n", `STL line 7: unexpected "color"`},
		{"nan", "solid x\nfacet\nvertex nan 0 0\nvertex 1 0 0\nvertex 0 1 0\nendfacet\n", "non-finite coordinate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.data), STL)
			wantErr(t, err, tc.want)
		})
	}
}

func FuzzReadSTL(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, tetra(), STL)
	fuzzReader(f, STL, func(r io.Reader, _ int64) (*Cloud, error) { return readSTL(r) },
		stlSquareTab, stlTwoSolids, buf.String(), stlBinary("solid x", [9]float32{0, 0, 0, 1, 0, 0, 0, 1, 0}))
}
