package pointcloud

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// readXYZ reads one point a line: x y z, and with six or more values and
// normals set, nx ny nz from the fourth to sixth. Values are separated by
// commas, semicolons or white space. Blank lines and # comments are
// skipped, and so are a first line that does not start with a number (a
// column header) and a first line holding one whole number (the point count
// of a .pts file). Every line must have as many values as the first.
func readXYZ(r io.Reader, normals bool) (*Cloud, error) {
	lr := newLineReader(r)
	out := &Cloud{XYZ: []float32{}}
	var (
		f        []string
		ncol     int // values on each data line; 0 before the first
		firstRow int // line of the first data line
		seen     bool
	)
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if f, err = splitXYZ(f[:0], line); err != nil {
			return nil, fmt.Errorf("line %d: %w", lr.line, err)
		}
		if len(f) == 0 {
			continue
		}
		if !seen {
			seen = true
			if _, err := strconv.ParseFloat(f[0], 64); err != nil {
				continue // a header of column names
			}
			if _, err := strconv.ParseUint(f[0], 10, 64); err == nil && len(f) == 1 {
				continue // a point count
			}
		}
		if ncol == 0 {
			if len(f) < 3 {
				return nil, fmt.Errorf("line %d: %d values, want at least x, y and z", lr.line, len(f))
			}
			ncol, firstRow = len(f), lr.line
			if normals && ncol >= 6 {
				out.Normals = []float32{}
			}
		} else if len(f) != ncol {
			return nil, fmt.Errorf("line %d: %d values, but line %d has %d", lr.line, len(f), firstRow, ncol)
		}
		if out.Len() >= maxPoints {
			return nil, fmt.Errorf("line %d: more points than pcx can index", lr.line)
		}
		for k := 0; k < 3; k++ {
			v, err := parseFloat32(f[k])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lr.line, err)
			}
			out.XYZ = append(out.XYZ, v)
		}
		if out.Normals != nil {
			for k := 3; k < 6; k++ {
				v, err := parseFloat32(f[k])
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", lr.line, err)
				}
				out.Normals = append(out.Normals, v)
			}
		}
	}
	if ncol == 0 {
		return nil, errors.New("no points: the file has no data lines")
	}
	return out, nil
}

// splitXYZ appends the values of a line to dst: comma- or
// semicolon-separated if it has either, else white-space-separated.
// Trailing separators are ignored.
func splitXYZ(dst []string, line string) ([]string, error) {
	if strings.IndexAny(line, ",;") < 0 {
		return appendFields(dst, line), nil
	}
	line = strings.TrimRight(strings.TrimSpace(line), ",;")
	if strings.TrimSpace(line) == "" {
		return dst, nil // only separators
	}
	for {
		i := strings.IndexAny(line, ",;")
		field := line
		if i >= 0 {
			field = line[:i]
		}
		if field = strings.TrimSpace(field); field == "" {
			return nil, errors.New("empty value between separators")
		}
		dst = append(dst, field)
		if i < 0 {
			return dst, nil
		}
		line = line[i+1:]
	}
}

// writeXYZ writes "x y z [nx ny nz]" lines separated by sep, with normals
// only if normals is set and c has them.
func writeXYZ(w io.Writer, c *Cloud, sep byte, normals bool) error {
	bw := bufio.NewWriter(w)
	normals = normals && c.Normals != nil
	var b []byte
	for i := 0; i < c.Len(); i++ {
		b = appendFloats(b[:0], sep, c.XYZ[3*i:3*i+3])
		if normals {
			b = append(b, sep)
			b = appendFloats(b, sep, c.Normals[3*i:3*i+3])
		}
		bw.Write(append(b, '\n'))
	}
	return bw.Flush()
}
