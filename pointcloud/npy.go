package pointcloud

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

const npyMagic = "\x93NUMPY"

// npyType is a NumPy dtype pcx reads: a byte order, a kind (f, i, u) and
// a size.
type npyType struct {
	order binary.ByteOrder
	kind  byte
	size  int
}

func parseNPYType(descr string) (npyType, error) {
	if len(descr) < 3 {
		return npyType{}, fmt.Errorf("NPY dtype %q is not supported", descr)
	}
	t := npyType{order: binary.LittleEndian, kind: descr[1]}
	switch descr[0] {
	case '<', '|', '=':
	case '>':
		t.order = binary.BigEndian
	default:
		return t, fmt.Errorf("NPY dtype %q has an unknown byte order", descr)
	}
	n, err := strconv.Atoi(descr[2:])
	if err != nil {
		return t, fmt.Errorf("NPY dtype %q is not supported", descr)
	}
	t.size = n
	switch {
	case t.kind == 'f' && (n == 4 || n == 8):
	case (t.kind == 'i' || t.kind == 'u') && (n == 1 || n == 2 || n == 4 || n == 8):
	default:
		return t, fmt.Errorf("NPY dtype %q is not supported (want float32, float64 or an integer type)", descr)
	}
	return t, nil
}

func (t npyType) decode(b []byte) float64 {
	switch t.kind {
	case 'f':
		if t.size == 4 {
			return float64(math.Float32frombits(t.order.Uint32(b)))
		}
		return math.Float64frombits(t.order.Uint64(b))
	case 'i':
		switch t.size {
		case 1:
			return float64(int8(b[0]))
		case 2:
			return float64(int16(t.order.Uint16(b)))
		case 4:
			return float64(int32(t.order.Uint32(b)))
		}
		return float64(int64(t.order.Uint64(b)))
	}
	switch t.size {
	case 1:
		return float64(b[0])
	case 2:
		return float64(t.order.Uint16(b))
	case 4:
		return float64(t.order.Uint32(b))
	}
	return float64(t.order.Uint64(b))
}

// NPYArray is a NumPy array as ReadNPYArray returns it.
type NPYArray struct {
	Shape   []int64
	Fortran bool   // stored in Fortran (column-major) order
	DType   string // the header's descr, e.g. "<f4"
	Data    []byte // the elements as stored
	typ     npyType
}

// Kind returns 'f' for a float array, 'i' or 'u' for an integer one.
func (a *NPYArray) Kind() byte { return a.typ.kind }

// Float returns element i, counted in storage order, as float64.
func (a *NPYArray) Float(i int64) float64 { return a.typ.decode(a.Data[i*int64(a.typ.size):]) }

// ShapeString formats the shape as Python does: (2, 3) or (5,).
func (a *NPYArray) ShapeString() string {
	t := make([]any, len(a.Shape))
	for i, d := range a.Shape {
		t[i] = d
	}
	return pyTuple(t)
}

// ReadNPYArray reads a NumPy .npy file (format versions 1 to 3) of a
// float or integer dtype in either byte order, C or Fortran order, from r,
// whose size is size bytes (or -1 when unknown). It reads no more data than
// the file holds, whatever the header claims, and refuses a file whose data
// is shorter than its shape. check, when not nil, sees the array with its
// shape and no data before the data is read; its error is returned.
func ReadNPYArray(r io.Reader, size int64, check func(*NPYArray) error) (*NPYArray, error) {
	br := bufio.NewReader(r)
	var pre [10]byte
	if n, err := io.ReadFull(br, pre[:8]); err != nil {
		if n == 0 {
			return nil, errors.New("empty file: no NPY header")
		}
		return nil, errors.New("not an NPY file: too short for its magic")
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("not an NPY file: it starts with %q, not \"\\x93NUMPY\"", pre[:6])
	}
	var hlen int
	switch major := pre[6]; major {
	case 1:
		if _, err := io.ReadFull(br, pre[8:10]); err != nil {
			return nil, errors.New("NPY file ends inside its header")
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, errors.New("NPY file ends inside its header")
		}
		h := binary.LittleEndian.Uint32(b[:])
		if h > 1<<20 {
			return nil, fmt.Errorf("NPY header of %d bytes is too long", h)
		}
		hlen = int(h)
	default:
		return nil, fmt.Errorf("NPY format version %d.%d is not supported", major, pre[7])
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(br, header); err != nil {
		return nil, fmt.Errorf("NPY header promises %d bytes but the file ends before them", hlen)
	}
	dict, err := parsePyDict(string(header))
	if err != nil {
		return nil, fmt.Errorf("NPY header: %w", err)
	}

	descr, ok := dict["descr"].(string)
	if !ok {
		if _, isList := dict["descr"].([]any); isList {
			return nil, errors.New("NPY structured dtypes are not supported")
		}
		return nil, errors.New("NPY header has no descr string")
	}
	typ, err := parseNPYType(descr)
	if err != nil {
		return nil, err
	}
	fortran, ok := dict["fortran_order"].(bool)
	if !ok {
		return nil, errors.New("NPY header has no fortran_order True or False")
	}
	shapeAny, ok := dict["shape"].([]any)
	if !ok {
		return nil, errors.New("NPY header has no shape tuple")
	}
	a := &NPYArray{Shape: make([]int64, len(shapeAny)), Fortran: fortran, DType: descr, typ: typ}
	need := int64(typ.size)
	for i, d := range shapeAny {
		v, ok := d.(int64)
		if !ok || v < 0 {
			return nil, fmt.Errorf("NPY shape %s is not a tuple of sizes", excerpt(pyTuple(shapeAny)))
		}
		a.Shape[i] = v
		if v > 0 && need > math.MaxInt64/v {
			return nil, fmt.Errorf("NPY shape %s is too large", excerpt(pyTuple(shapeAny)))
		}
		need *= v
	}
	if check != nil {
		if err := check(a); err != nil {
			return nil, err
		}
	}
	if a.Data, err = readUpTo(br, need, size); err != nil {
		return nil, err
	}
	if int64(len(a.Data)) < need {
		return nil, fmt.Errorf("NPY header promises shape %s (%d bytes) but the data ends after %d bytes", excerpt(pyTuple(shapeAny)), need, len(a.Data))
	}
	a.Data = a.Data[:need]
	return a, nil
}

// readNPY reads a NumPy .npy array (see ReadNPYArray) of shape (N, 3),
// (N, C) with C ≥ 3, or (1, N, C): columns 0 to 2 are x, y, z and, when
// C ≥ 6, columns 3 to 5 are normals. C and Fortran order are both read.
func readNPY(r io.Reader, size int64) (*Cloud, error) {
	var n, c int64
	a, err := ReadNPYArray(r, size, func(a *NPYArray) error {
		shape := a.Shape
		switch {
		case len(shape) == 2:
			n, c = shape[0], shape[1]
		case len(shape) == 3 && shape[0] == 1:
			n, c = shape[1], shape[2]
		case len(shape) == 3:
			return fmt.Errorf("NPY array of shape %s holds %d clouds; pcx reads one, shape (N, C) or (1, N, C)", a.ShapeString(), shape[0])
		default:
			return fmt.Errorf("NPY shape %s is not (N, C) or (1, N, C)", excerpt(a.ShapeString()))
		}
		if c < 3 {
			return fmt.Errorf("NPY shape %s has %d columns, want at least x, y and z", a.ShapeString(), c)
		}
		if n > maxPoints {
			return fmt.Errorf("NPY shape %s has more points than pcx can index", a.ShapeString())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &Cloud{XYZ: make([]float32, 3*n)}
	cols := 3
	if c >= 6 {
		cols = 6
		out.Normals = make([]float32, 3*n)
	}
	for i := int64(0); i < n; i++ {
		for j := int64(0); j < int64(cols); j++ {
			at := i*c + j
			if a.Fortran {
				at = j*n + i
			}
			v := float32(a.Float(at))
			if j < 3 {
				out.XYZ[3*i+j] = v
			} else {
				out.Normals[3*i+j-3] = v
			}
		}
	}
	return out, nil
}

// readUpTo reads up to need bytes, growing its buffer as data arrives so a
// lying header costs no more than the data there is.
func readUpTo(r io.Reader, need, size int64) ([]byte, error) {
	if size >= 0 && need > size {
		need = size + 1 // enough to read all there is
	}
	var buf bytes.Buffer
	if need <= 1<<20 {
		buf.Grow(int(need))
	}
	_, err := buf.ReadFrom(io.LimitReader(r, need))
	return buf.Bytes(), err
}

// pyTuple formats a shape as Python does.
func pyTuple(t []any) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range t {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, v)
	}
	if len(t) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// parsePyDict parses the Python dict literal of an NPY header. Values are
// strings, True, False, None, integers, and tuples or lists of these
// ([]any).
func parsePyDict(s string) (map[string]any, error) {
	p := &pyParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a dict")
	}
	if p.skip(); p.i < len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the dict", excerpt(p.s[p.i:]))
	}
	return d, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) skip() {
	for p.i < len(p.s) && (isSpace(p.s[p.i]) || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *pyParser) fail(what string) error {
	return fmt.Errorf("%s at byte %d of %q", what, p.i, excerpt(p.s))
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > 16 {
		return nil, p.fail("nesting too deep")
	}
	p.skip()
	if p.i >= len(p.s) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		d := map[string]any{}
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return d, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, p.fail("dict key is not a string")
			}
			if p.skip(); p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.fail("want ':'")
			}
			p.i++
			if d[key], err = p.value(depth + 1); err != nil {
				return nil, err
			}
			if err := p.sep('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		end := byte(')')
		if c == '[' {
			end = ']'
		}
		p.i++
		t := []any{}
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				return t, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			t = append(t, v)
			if err := p.sep(end); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		p.i++
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] != c {
			if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
				p.i++
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, p.fail("unterminated string")
		}
		p.i++
		return b.String(), nil
	default:
		j := p.i
		for j < len(p.s) && (p.s[j] == '_' || p.s[j] == '-' || p.s[j] == '+' ||
			'0' <= p.s[j] && p.s[j] <= '9' || 'a' <= p.s[j] && p.s[j] <= 'z' || 'A' <= p.s[j] && p.s[j] <= 'Z') {
			j++
		}
		word := p.s[p.i:j]
		switch word {
		case "True":
			p.i = j
			return true, nil
		case "False":
			p.i = j
			return false, nil
		case "None":
			p.i = j
			return nil, nil
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(word, "L"), 10, 64)
		if err != nil {
			if word == "" {
				word = p.s[p.i : p.i+1]
			}
			return nil, p.fail("unexpected " + strconv.Quote(excerpt(word)))
		}
		p.i = j
		return v, nil
	}
}

// sep consumes a ',' or sees the closing bracket.
func (p *pyParser) sep(end byte) error {
	p.skip()
	switch {
	case p.i < len(p.s) && p.s[p.i] == ',':
		p.i++
		return nil
	case p.i < len(p.s) && p.s[p.i] == end:
		return nil
	}
	return p.fail("want ',' or '" + string(end) + "'")
}

func writeNPY(w io.Writer, c *Cloud) error {
	cols := 3
	if c.Normals != nil {
		cols = 6
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", c.Len(), cols)
	// Pad with spaces and a newline so the data starts on a 64-byte boundary.
	hlen := len(dict) + 1
	hlen += (64 - (10+hlen)%64) % 64
	bw := bufio.NewWriter(w)
	bw.WriteString(npyMagic)
	bw.Write([]byte{1, 0})
	binary.Write(bw, binary.LittleEndian, uint16(hlen))
	bw.WriteString(dict)
	bw.WriteString(strings.Repeat(" ", hlen-len(dict)-1))
	bw.WriteByte('\n')
	var b []byte
	for i := 0; i < c.Len(); i++ {
		b = b[:0]
		for _, v := range c.XYZ[3*i : 3*i+3] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		if c.Normals != nil {
			for _, v := range c.Normals[3*i : 3*i+3] {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
		}
		bw.Write(b)
	}
	return bw.Flush()
}
