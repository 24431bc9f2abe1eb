package pointcloud

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// readOFF reads an Object File Format file: an optional header keyword
// ([ST][C][N]OFF), the counts "vertices faces [edges]" (on the header line,
// glued to it as in "OFF490 518 0", or on the next line), one vertex a line
// and one polygon a line ("n i1 ... in", then optional colour values).
// Comments run from # to the end of a line.
func readOFF(r io.Reader, size int64) (*Cloud, error) {
	lr := newLineReader(r)
	var f []string
	// next returns the fields of the next line that has any.
	next := func() ([]string, error) {
		for {
			line, err := lr.next()
			if err != nil {
				return nil, err
			}
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			f = appendFields(f[:0], line)
			if len(f) > 0 {
				return f, nil
			}
		}
	}

	f, err := next()
	if err == io.EOF {
		return nil, errors.New("empty file: no OFF header")
	}
	if err != nil {
		return nil, err
	}
	var normals bool
	counts := f
	if i := strings.Index(f[0], "OFF"); i >= 0 {
		if normals, err = offPrefix(f[0][:i]); err != nil {
			return nil, err
		}
		counts = f[1:]
		if rest := f[0][i+3:]; rest != "" {
			counts = append([]string{rest}, counts...)
		}
		if len(counts) == 0 {
			if counts, err = next(); err == io.EOF {
				return nil, errors.New("OFF file ends before its counts line")
			} else if err != nil {
				return nil, err
			}
		}
	} else if _, err := strconv.ParseInt(f[0], 10, 64); err != nil {
		return nil, fmt.Errorf("not an OFF file: it starts with %q", excerpt(f[0]))
	}
	if len(counts) < 2 || len(counts) > 3 {
		return nil, fmt.Errorf("OFF line %d: want \"vertices faces [edges]\" counts, got %q", lr.line, excerpt(strings.Join(counts, " ")))
	}
	nv, err := parseCount(counts[0], "vertex count")
	if err != nil {
		return nil, fmt.Errorf("OFF line %d: %w", lr.line, err)
	}
	nf, err := parseCount(counts[1], "face count")
	if err != nil {
		return nil, fmt.Errorf("OFF line %d: %w", lr.line, err)
	}
	if nv > maxPoints {
		return nil, fmt.Errorf("OFF header promises %d vertices, more than the %d pcx can index", nv, maxPoints)
	}

	out := &Cloud{XYZ: make([]float32, 0, 3*capFor(nv, size, 6))}
	if normals {
		out.Normals = make([]float32, 0, 3*capFor(nv, size, 12))
	}
	need := 3
	if normals {
		need = 6
	}
	for i := int64(0); i < nv; i++ {
		f, err := next()
		if err == io.EOF {
			return nil, fmt.Errorf("OFF header promises %d vertices but the data ends after %d", nv, i)
		}
		if err != nil {
			return nil, err
		}
		if len(f) < need {
			return nil, fmt.Errorf("OFF line %d: vertex %d has %d values, want %d", lr.line, i, len(f), need)
		}
		for k := 0; k < need; k++ {
			v, err := parseFloat32(f[k])
			if err != nil {
				return nil, fmt.Errorf("OFF line %d: vertex %d: %w", lr.line, i, err)
			}
			if k < 3 {
				out.XYZ = append(out.XYZ, v)
			} else {
				out.Normals = append(out.Normals, v)
			}
		}
	}

	fn := fan{faces: make([]int32, 0, 3*capFor(nf, size, 8))}
	for i := int64(0); i < nf; i++ {
		f, err := next()
		if err == io.EOF {
			return nil, fmt.Errorf("OFF header promises %d faces but the data ends after %d", nf, i)
		}
		if err != nil {
			return nil, err
		}
		k, err := parseCount(f[0], "polygon size")
		if err != nil {
			return nil, fmt.Errorf("OFF line %d: face %d: %w", lr.line, i, err)
		}
		if k > int64(len(f)-1) {
			return nil, fmt.Errorf("OFF line %d: face %d lists %d vertices but only %d values follow", lr.line, i, k, len(f)-1)
		}
		fn.start()
		for _, s := range f[1 : 1+k] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("OFF line %d: face %d: bad vertex index %q", lr.line, i, excerpt(s))
			}
			if v < 0 || v >= nv {
				return nil, fmt.Errorf("OFF line %d: face %d names vertex %d but there are %d vertices", lr.line, i, v, nv)
			}
			fn.add(int32(v))
		}
	}
	out.Faces = fn.faces
	return out, nil
}

// offPrefix checks the letters before "OFF" and reports whether vertices
// carry normals.
func offPrefix(p string) (normals bool, err error) {
	rest := strings.TrimPrefix(p, "ST")
	rest = strings.TrimPrefix(rest, "C")
	if r := strings.TrimPrefix(rest, "N"); r != rest {
		normals, rest = true, r
	}
	switch {
	case rest == "":
		return normals, nil
	case strings.ContainsAny(rest, "4n"):
		return false, fmt.Errorf("OFF variant %q (4D or n-dimensional) is not supported", excerpt(p+"OFF"))
	default:
		return false, fmt.Errorf("not an OFF file: unknown header %q", excerpt(p+"OFF"))
	}
}

func writeOFF(w io.Writer, c *Cloud) error {
	bw := bufio.NewWriter(w)
	if c.Normals != nil {
		bw.WriteString("NOFF\n")
	} else {
		bw.WriteString("OFF\n")
	}
	fmt.Fprintf(bw, "%d %d 0\n", c.Len(), c.NumFaces())
	var b []byte
	for i := 0; i < c.Len(); i++ {
		b = appendFloats(b[:0], ' ', c.XYZ[3*i:3*i+3])
		if c.Normals != nil {
			b = append(b, ' ')
			b = appendFloats(b, ' ', c.Normals[3*i:3*i+3])
		}
		b = append(b, '\n')
		bw.Write(b)
	}
	for i := 0; i < len(c.Faces); i += 3 {
		b = append(b[:0], '3')
		for _, v := range c.Faces[i : i+3] {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(v), 10)
		}
		b = append(b, '\n')
		bw.Write(b)
	}
	return bw.Flush()
}

// appendFloats appends vals in the shortest form that reads back exactly,
// separated by sep.
func appendFloats(b []byte, sep byte, vals []float32) []byte {
	for j, v := range vals {
		if j > 0 {
			b = append(b, sep)
		}
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	}
	return b
}
