package pointcloud

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/hschendel/stl"
)

// STL stores each triangle with its own three corners; the reader merges
// corners with exactly equal coordinates into one point, so the result is an
// indexed mesh. Facet normals are per face and are not kept.

// stlMesh collects triangles and merges equal corners. It is an stl.Writer.
type stlMesh struct {
	index map[[3]float32]int32
	xyz   []float32
	faces []int32
	err   error
}

func newSTLMesh(triangles int) *stlMesh {
	return &stlMesh{
		index: make(map[[3]float32]int32, triangles/2),
		xyz:   make([]float32, 0, 3*triangles/2),
		faces: make([]int32, 0, 3*triangles),
	}
}

func (m *stlMesh) vertex(v [3]float32) int32 {
	if i, ok := m.index[v]; ok {
		return i
	}
	i := int32(len(m.xyz) / 3)
	if len(m.xyz)/3 >= maxPoints {
		m.err = errors.New("STL file has more distinct vertices than pcx can index")
		i = 0
	}
	m.index[v] = i
	m.xyz = append(m.xyz, v[0], v[1], v[2])
	return i
}

func (m *stlMesh) SetName(string)                {}
func (m *stlMesh) SetBinaryHeader([]byte)        {}
func (m *stlMesh) SetASCII(bool)                 {}
func (m *stlMesh) SetTriangleCount(uint32)       {}
func (m *stlMesh) AppendTriangle(t stl.Triangle) { m.triangle(t.Vertices) }

func (m *stlMesh) triangle(v [3]stl.Vec3) {
	m.faces = append(m.faces, m.vertex(v[0]), m.vertex(v[1]), m.vertex(v[2]))
}

func (m *stlMesh) cloud() (*Cloud, error) {
	if m.err != nil {
		return nil, m.err
	}
	return &Cloud{XYZ: m.xyz, Faces: m.faces}, nil
}

// readSTL reads ASCII or binary STL. A file is binary when its size is
// 84 + 50·n for the count n in bytes 80..83, even if it starts with "solid"
// as many binary files do; otherwise a file that starts with "solid" and
// holds text is ASCII. A binary file may have up to 49 bytes after its
// triangles (padding); a file with room for more triangles than its header
// counts is refused, since the count and the data disagree.
func readSTL(r io.Reader) (*Cloud, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, errors.New("empty file: no STL data")
	}
	var n int64 = -1
	if len(data) >= 84 {
		n = int64(binary.LittleEndian.Uint32(data[80:84]))
		if 84+50*n == int64(len(data)) {
			return readSTLBinary(data, n)
		}
	}
	if isASCIISTL(data) {
		return readSTLASCII(data)
	}
	if n < 0 {
		return nil, fmt.Errorf("STL file of %d bytes is too short for a binary header (84 bytes) and is not ASCII", len(data))
	}
	if 84+50*n > int64(len(data)) {
		return nil, fmt.Errorf("binary STL header promises %d triangles (%d bytes) but the file has %d bytes", n, 84+50*n, len(data))
	}
	// Some writers pad the file after the triangles; fewer bytes than a
	// triangle are ignored. More would be triangles the count leaves out:
	// dropping them silently would lose part of the mesh.
	if extra := int64(len(data)) - 84 - 50*n; extra >= 50 {
		return nil, fmt.Errorf("binary STL header says %d triangles but the file holds %d more bytes, room for %d more triangles: the count and the data disagree",
			n, extra, extra/50)
	}
	return readSTLBinary(data[:84+50*n], n)
}

func isASCIISTL(data []byte) bool {
	s := bytes.TrimLeft(data, " \t\r\n")
	if len(s) < 5 || !bytes.EqualFold(s[:5], []byte("solid")) {
		return false
	}
	if len(s) > 5 && !isSpace(s[5]) && s[5] != '\n' {
		return false
	}
	head := s[:min(len(s), 512)]
	return bytes.IndexByte(head, 0) < 0
}

func readSTLBinary(data []byte, n int64) (*Cloud, error) {
	m := newSTLMesh(int(n))
	if err := stl.CopyAll(bytes.NewReader(data), m); err != nil {
		return nil, fmt.Errorf("binary STL: %w", err)
	}
	return m.cloud()
}

// readSTLASCII reads one or more "solid ... endsolid" blocks. It accepts a
// tab after "solid", a missing final endsolid and facets of more than three
// vertices (split into fans).
func readSTLASCII(data []byte) (*Cloud, error) {
	m := newSTLMesh(capFor(int64(len(data)/200), -1, 1))
	lr := newLineReader(bytes.NewReader(data))
	var (
		f       []string
		facet   []stl.Vec3
		inFacet bool
		started int
	)
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		f = appendFields(f[:0], line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("STL line %d: %s", lr.line, fmt.Sprintf(format, args...))
		}
		switch strings.ToLower(f[0]) {
		case "solid", "endsolid":
			if inFacet {
				return nil, bad("%s inside the facet that starts on line %d", f[0], started)
			}
		case "facet":
			if inFacet {
				return nil, bad("facet inside the facet that starts on line %d", started)
			}
			inFacet, started, facet = true, lr.line, facet[:0]
		case "outer", "endloop":
			if !inFacet {
				return nil, bad("%s outside a facet", f[0])
			}
		case "vertex":
			if !inFacet {
				return nil, bad("vertex outside a facet")
			}
			if len(f) != 4 {
				return nil, bad("want \"vertex x y z\"")
			}
			var v stl.Vec3
			for k := range v {
				x, err := parseFloat32(f[1+k])
				if err != nil {
					return nil, bad("%v", err)
				}
				v[k] = x
			}
			facet = append(facet, v)
		case "endfacet":
			if !inFacet {
				return nil, bad("endfacet outside a facet")
			}
			if len(facet) < 3 {
				return nil, bad("facet has %d vertices, want at least 3", len(facet))
			}
			for i := 1; i+1 < len(facet); i++ {
				m.triangle([3]stl.Vec3{facet[0], facet[i], facet[i+1]})
			}
			inFacet = false
		default:
			return nil, bad("unexpected %q", excerpt(f[0]))
		}
	}
	if inFacet {
		return nil, fmt.Errorf("STL file ends inside the facet that starts on line %d", started)
	}
	return m.cloud()
}

func writeSTL(w io.Writer, c *Cloud) error {
	if !c.IsMesh() {
		return errors.New("STL needs faces: cannot write a plain point cloud")
	}
	if int64(c.NumFaces()) > math.MaxUint32 {
		return fmt.Errorf("%d faces are too many for binary STL", c.NumFaces())
	}
	s := stl.Solid{Name: "pcx", Triangles: make([]stl.Triangle, c.NumFaces())}
	for i := range s.Triangles {
		t := &s.Triangles[i]
		for k := 0; k < 3; k++ {
			t.Vertices[k] = stl.Vec3(c.Point(int(c.Faces[3*i+k])))
		}
	}
	s.RecalculateNormals()
	bw := bufio.NewWriter(w)
	if err := s.WriteAll(bw); err != nil {
		return err
	}
	return bw.Flush()
}
