package pointcloud

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// readOBJ reads the v, vn and f statements of a Wavefront OBJ file and
// ignores the others. Face corners may be i, i/t, i//n or i/t/n, with
// negative indices counting back from the latest vertex; polygons are split
// into fans.
//
// OBJ gives normals per face corner, Cloud per point. The cloud gets
// normals when there is one vn per v and the faces pair them up by index
// (or give no normals), or else when face corners give every point a
// normal; then the first normal a point gets is kept.
func readOBJ(r io.Reader) (*Cloud, error) {
	lr := newLineReader(r)
	var (
		out      = &Cloud{XYZ: []float32{}}
		vn       []float32
		fn       fan
		pairs    []int32 // vertex, normal index of each face corner that names a normal
		paired   = true  // every corner with a normal names the vn of its v
		f        []string
		maxV     int64 // largest vertex index named, counted from 1
		maxVLine int
		maxN     int64
		maxNLine int
	)
	// resolve turns an OBJ index into one from 0, given n defined so far.
	resolve := func(s string, n int64, max *int64, maxLine *int) (int64, error) {
		i, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			return 0, fmt.Errorf("bad index %q", excerpt(s))
		case i == 0:
			return 0, fmt.Errorf("index 0 (OBJ counts from 1)")
		case i < 0:
			if -i > n {
				return 0, fmt.Errorf("relative index %d reaches before the first of %d", i, n)
			}
			return n + i, nil
		}
		if i > *max {
			*max, *maxLine = i, lr.line
		}
		return i - 1, nil
	}
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
		bad := func(err error) error { return fmt.Errorf("OBJ line %d: %w", lr.line, err) }
		switch f[0] {
		case "v", "vn":
			if len(f) < 4 {
				return nil, bad(fmt.Errorf("%s needs x, y and z", f[0]))
			}
			var xyz [3]float32
			for k := range xyz {
				if xyz[k], err = parseFloat32(f[1+k]); err != nil {
					return nil, bad(err)
				}
			}
			if f[0] == "v" {
				if out.Len() >= maxPoints {
					return nil, bad(fmt.Errorf("more vertices than pcx can index"))
				}
				out.XYZ = append(out.XYZ, xyz[:]...)
			} else {
				vn = append(vn, xyz[:]...)
			}
		case "f":
			nv, nn := int64(out.Len()), int64(len(vn)/3)
			fn.start()
			for _, corner := range f[1:] {
				vs, rest, _ := strings.Cut(corner, "/")
				_, ns, hasN := strings.Cut(rest, "/")
				v, err := resolve(vs, nv, &maxV, &maxVLine)
				if err != nil {
					return nil, bad(fmt.Errorf("face corner %q: %w", excerpt(corner), err))
				}
				fn.add(int32(v))
				if !hasN || ns == "" {
					continue
				}
				n, err := resolve(ns, nn, &maxN, &maxNLine)
				if err != nil {
					return nil, bad(fmt.Errorf("face corner %q: normal %w", excerpt(corner), err))
				}
				pairs = append(pairs, int32(v), int32(n))
				paired = paired && n == v
			}
		}
	}
	nv, nn := int64(out.Len()), int64(len(vn)/3)
	if maxV > nv {
		return nil, fmt.Errorf("OBJ line %d: face names vertex %d but there are %d", maxVLine, maxV, nv)
	}
	if maxN > nn {
		return nil, fmt.Errorf("OBJ line %d: face names normal %d but there are %d", maxNLine, maxN, nn)
	}
	out.Faces = fn.faces
	switch {
	case nn == nv && paired:
		out.Normals = vn
	case len(pairs) > 0:
		normals := make([]float32, len(out.XYZ))
		set := make([]bool, nv)
		left := nv
		for i := 0; i < len(pairs); i += 2 {
			v, n := pairs[i], pairs[i+1]
			if !set[v] {
				set[v] = true
				left--
				copy(normals[3*v:3*v+3], vn[3*n:3*n+3])
			}
		}
		if left == 0 {
			out.Normals = normals
		}
	}
	return out, nil
}

func writeOBJ(w io.Writer, c *Cloud) error {
	bw := bufio.NewWriter(w)
	var b []byte
	for i := 0; i < c.Len(); i++ {
		b = append(b[:0], "v "...)
		b = appendFloats(b, ' ', c.XYZ[3*i:3*i+3])
		bw.Write(append(b, '\n'))
	}
	for i := 0; i < len(c.Normals)/3; i++ {
		b = append(b[:0], "vn "...)
		b = appendFloats(b, ' ', c.Normals[3*i:3*i+3])
		bw.Write(append(b, '\n'))
	}
	for i := 0; i < len(c.Faces); i += 3 {
		b = append(b[:0], 'f')
		for _, v := range c.Faces[i : i+3] {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(v)+1, 10)
			if c.Normals != nil {
				b = append(b, "//"...)
				b = strconv.AppendInt(b, int64(v)+1, 10)
			}
		}
		bw.Write(append(b, '\n'))
	}
	return bw.Flush()
}
