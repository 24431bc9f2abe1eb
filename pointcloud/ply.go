package pointcloud

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// PLYEncoding says how a PLY file stores its numbers.
type PLYEncoding int

// The three PLY encodings. The zero value, binary little-endian, is what
// Write uses.
const (
	PLYBinaryLittleEndian PLYEncoding = iota
	PLYBinaryBigEndian
	PLYASCII
)

// String returns the name the PLY format line uses.
func (e PLYEncoding) String() string {
	switch e {
	case PLYBinaryLittleEndian:
		return "binary_little_endian"
	case PLYBinaryBigEndian:
		return "binary_big_endian"
	case PLYASCII:
		return "ascii"
	}
	return fmt.Sprintf("PLYEncoding(%d)", int(e))
}

// PLYOptions controls WritePLY.
type PLYOptions struct {
	// Encoding is binary little-endian unless set.
	Encoding PLYEncoding
	// Comment, when not empty, is written as header comment lines, one for
	// each line of it.
	Comment string
}

// WritePLY writes c as a PLY file: float x, y, z, float nx, ny, nz when c
// has normals, and a face element of "list uchar int vertex_indices" when it
// has faces.
func WritePLY(w io.Writer, c *Cloud, opt PLYOptions) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return writePLY(w, c, opt)
}

// plyType is a PLY scalar type.
type plyType uint8

const (
	plyNone plyType = iota
	plyInt8
	plyUint8
	plyInt16
	plyUint16
	plyInt32
	plyUint32
	plyFloat32
	plyFloat64
)

var plyTypes = map[string]plyType{
	"char": plyInt8, "uchar": plyUint8, "short": plyInt16, "ushort": plyUint16,
	"int": plyInt32, "uint": plyUint32, "float": plyFloat32, "double": plyFloat64,
	"int8": plyInt8, "uint8": plyUint8, "int16": plyInt16, "uint16": plyUint16,
	"int32": plyInt32, "uint32": plyUint32, "float32": plyFloat32, "float64": plyFloat64,
}

func (t plyType) size() int {
	switch t {
	case plyInt8, plyUint8:
		return 1
	case plyInt16, plyUint16:
		return 2
	case plyInt32, plyUint32, plyFloat32:
		return 4
	}
	return 8
}

func (t plyType) isInt() bool { return t != plyFloat32 && t != plyFloat64 }

// decode returns the value of type t at the start of b, stored big-endian
// if big is set and little-endian if not.
func (t plyType) decode(b []byte, big bool) float64 {
	var u uint64
	switch t.size() {
	case 1:
		u = uint64(b[0])
	case 2:
		if big {
			u = uint64(binary.BigEndian.Uint16(b))
		} else {
			u = uint64(binary.LittleEndian.Uint16(b))
		}
	case 4:
		if big {
			u = uint64(binary.BigEndian.Uint32(b))
		} else {
			u = uint64(binary.LittleEndian.Uint32(b))
		}
	default:
		if big {
			u = binary.BigEndian.Uint64(b)
		} else {
			u = binary.LittleEndian.Uint64(b)
		}
	}
	switch t {
	case plyInt8:
		return float64(int8(u))
	case plyInt16:
		return float64(int16(u))
	case plyInt32:
		return float64(int32(u))
	case plyFloat32:
		return float64(math.Float32frombits(uint32(u)))
	case plyFloat64:
		return math.Float64frombits(u)
	}
	return float64(u)
}

// plyProp is one property of a PLY element.
type plyProp struct {
	name  string
	typ   plyType // the value type, or a list's item type
	count plyType // a list's count type; plyNone for a scalar
}

// plyElement is one element line of a PLY header with its properties.
type plyElement struct {
	name  string
	count int64
	props []plyProp
}

// fixedSize returns the bytes of one binary record, or 0 if the element has
// list properties and so no fixed size.
func (e *plyElement) fixedSize() int {
	n := 0
	for _, p := range e.props {
		if p.count != plyNone {
			return 0
		}
		n += p.typ.size()
	}
	return n
}

// minSize returns the fewest bytes one binary record can take.
func (e *plyElement) minSize() int {
	n := 0
	for _, p := range e.props {
		if p.count != plyNone {
			n += p.count.size()
		} else {
			n += p.typ.size()
		}
	}
	return n
}

func (e *plyElement) find(names ...string) int {
	for i, p := range e.props {
		for _, n := range names {
			if p.name == n {
				return i
			}
		}
	}
	return -1
}

// plural names count elements of an element kind for messages.
func (e *plyElement) plural() string {
	switch e.name {
	case "vertex":
		return "vertices"
	case "face":
		return "faces"
	}
	return strconv.Quote(e.name) + " elements"
}

func (e *plyElement) truncated(done int64) error {
	return fmt.Errorf("PLY header promises %d %s but the data ends after %d", e.count, e.plural(), done)
}

// plyReader holds what reading a PLY file's data needs.
type plyReader struct {
	lr    *lineReader
	enc   PLYEncoding
	big   bool // binary big-endian
	elems []plyElement
	size  int64 // bytes left after the header, or -1

	nv    int64 // vertices the header promises
	vrole [6]int
	fan   fan
	out   Cloud
}

func readPLY(r io.Reader, size int64) (*Cloud, error) {
	p := &plyReader{lr: newLineReader(r)}
	hbytes, err := p.header()
	if err != nil {
		return nil, err
	}
	p.size = -1
	if size >= 0 {
		p.size = max(size-hbytes, 0)
	}
	for i := range p.elems {
		e := &p.elems[i]
		switch {
		case e.name == "vertex":
			err = p.vertices(e)
		case e.name == "face":
			err = p.faces(e)
		default:
			err = p.skip(e)
		}
		if err != nil {
			return nil, err
		}
	}
	p.out.Faces = p.fan.faces
	return &p.out, nil
}

// header parses the header and returns its length in bytes.
func (p *plyReader) header() (int64, error) {
	var (
		hbytes    int64
		gotFormat bool
		f         []string
		declared  = map[[2]string]bool{} // {element, ""} and {element, property}
	)
	for first := true; ; first = false {
		line, err := p.lr.next()
		if err == io.EOF {
			if first {
				return 0, errors.New("empty file: no PLY header")
			}
			return 0, errors.New("PLY header has no end_header line")
		}
		if err != nil {
			return 0, err
		}
		hbytes += int64(len(line)) + 1
		if first {
			if strings.TrimSpace(line) != "ply" {
				return 0, fmt.Errorf("not a PLY file: it starts with %q, not \"ply\"", excerpt(line))
			}
			continue
		}
		f = appendFields(f[:0], line)
		if len(f) == 0 {
			continue
		}
		bad := func(what string) error {
			return fmt.Errorf("PLY header line %d: %s: %q", p.lr.line, what, excerpt(line))
		}
		switch f[0] {
		case "comment", "obj_info":
		case "format":
			if len(f) != 3 {
				return 0, bad("want \"format <encoding> 1.0\"")
			}
			switch f[1] {
			case "ascii":
				p.enc = PLYASCII
			case "binary_little_endian":
				p.enc, p.big = PLYBinaryLittleEndian, false
			case "binary_big_endian":
				p.enc, p.big = PLYBinaryBigEndian, true
			default:
				return 0, bad("unknown encoding")
			}
			gotFormat = true
		case "element":
			if len(f) != 3 {
				return 0, bad("want \"element <name> <count>\"")
			}
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || n < 0 {
				return 0, bad("bad element count")
			}
			if declared[[2]string{f[1]}] {
				return 0, bad("element declared twice")
			}
			declared[[2]string{f[1]}] = true
			p.elems = append(p.elems, plyElement{name: f[1], count: n})
		case "property":
			if len(p.elems) == 0 {
				return 0, bad("property before any element")
			}
			var prop plyProp
			if len(f) >= 2 && f[1] == "list" {
				if len(f) != 5 {
					return 0, bad("want \"property list <count type> <item type> <name>\"")
				}
				prop = plyProp{name: f[4], count: plyTypes[f[2]], typ: plyTypes[f[3]]}
				if prop.count == plyNone || prop.typ == plyNone {
					return 0, bad("unknown property type")
				}
				if !prop.count.isInt() {
					return 0, bad("list count type must be an integer type")
				}
			} else {
				if len(f) != 3 {
					return 0, bad("want \"property <type> <name>\"")
				}
				prop = plyProp{name: f[2], typ: plyTypes[f[1]]}
				if prop.typ == plyNone {
					return 0, bad("unknown property type")
				}
			}
			e := &p.elems[len(p.elems)-1]
			if key := [2]string{e.name, prop.name}; declared[key] {
				return 0, bad("property declared twice")
			} else {
				declared[key] = true
			}
			e.props = append(e.props, prop)
		case "end_header":
			if !gotFormat {
				return 0, errors.New("PLY header has no format line")
			}
			return hbytes, p.check()
		default:
			return 0, bad("unknown header keyword")
		}
	}
}

// check checks the elements pcx reads and notes where the vertex values are.
func (p *plyReader) check() error {
	var v *plyElement
	for i := range p.elems {
		e := &p.elems[i]
		switch e.name {
		case "vertex":
			v = e
		case "face":
			k := e.find("vertex_indices", "vertex_index")
			if k < 0 {
				return errors.New("PLY face element has no vertex_indices property")
			}
			if e.props[k].count == plyNone {
				return errors.New("PLY face property " + e.props[k].name + " is not a list")
			}
			if !e.props[k].typ.isInt() {
				return errors.New("PLY face property " + e.props[k].name + " has non-integer items")
			}
		}
	}
	if v == nil {
		return errors.New("PLY file has no vertex element")
	}
	if v.count > maxPoints {
		return fmt.Errorf("PLY header promises %d vertices, more than the %d pcx can index", v.count, maxPoints)
	}
	p.nv = v.count
	for k, name := range []string{"x", "y", "z", "nx", "ny", "nz"} {
		p.vrole[k] = v.find(name)
		if i := p.vrole[k]; i >= 0 && v.props[i].count != plyNone {
			return fmt.Errorf("PLY vertex property %s is a list", name)
		}
		if k < 3 && p.vrole[k] < 0 {
			return fmt.Errorf("PLY vertex element has no %s property", name)
		}
	}
	if p.vrole[3] < 0 || p.vrole[4] < 0 || p.vrole[5] < 0 {
		p.vrole[3], p.vrole[4], p.vrole[5] = -1, -1, -1
	}
	return nil
}

func (p *plyReader) vertices(e *plyElement) error {
	n := capFor(e.count, p.size, max(e.minSize(), 6))
	p.out.XYZ = make([]float32, 0, 3*n)
	nk := 3
	if p.vrole[3] >= 0 {
		nk = 6
		p.out.Normals = make([]float32, 0, 3*n)
	}
	var vals [6]float32
	scalar := func(i int, v float64) error {
		for k, at := range p.vrole {
			if at == i {
				vals[k] = float32(v)
			}
		}
		return nil
	}
	put := func() {
		p.out.XYZ = append(p.out.XYZ, vals[:3]...)
		if nk == 6 {
			p.out.Normals = append(p.out.Normals, vals[3:]...)
		}
	}
	if p.enc == PLYASCII {
		return p.asciiRecords(e, scalar, put)
	}
	rec := e.fixedSize()
	if rec == 0 {
		return p.binaryRecords(e, scalar, put)
	}
	var offs [6]int
	var types [6]plyType
	floats := true
	for k := 0; k < nk; k++ {
		at := p.vrole[k]
		for _, q := range e.props[:at] {
			offs[k] += q.typ.size()
		}
		types[k] = e.props[at].typ
		floats = floats && types[k] == plyFloat32
	}
	return p.fixedRecords(e, rec, func(b []byte) {
		switch {
		case floats && !p.big:
			for k := 0; k < nk; k++ {
				vals[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[offs[k]:]))
			}
		case floats:
			for k := 0; k < nk; k++ {
				vals[k] = math.Float32frombits(binary.BigEndian.Uint32(b[offs[k]:]))
			}
		default:
			for k := 0; k < nk; k++ {
				vals[k] = float32(types[k].decode(b[offs[k]:], p.big))
			}
		}
		put()
	})
}

func (p *plyReader) faces(e *plyElement) error {
	k := e.find("vertex_indices", "vertex_index")
	p.fan.faces = make([]int32, 0, 3*capFor(e.count, p.size, e.minSize()+3*e.props[k].typ.size()))
	var face int64
	index := func(v float64) error {
		if v != math.Trunc(v) || v < 0 || v >= float64(p.nv) {
			return fmt.Errorf("PLY face %d names vertex %v but there are %d vertices", face, v, p.nv)
		}
		p.fan.add(int32(v))
		return nil
	}
	if p.enc == PLYASCII {
		list := asciiList{at: k, start: p.fan.start, item: index}
		return p.asciiRecords(e, nil, func() { face++ }, list)
	}
	br := p.lr.br
	for ; face < e.count; face++ {
		for i, q := range e.props {
			if i != k {
				if err := p.skipProp(e, q, face); err != nil {
					return err
				}
				continue
			}
			n, err := p.listCount(e, q, face)
			if err != nil {
				return err
			}
			p.fan.start()
			size := q.typ.size()
			for left := n * size; left > 0; {
				b, err := br.Peek(min(left, 4096))
				b = b[:len(b)/size*size]
				for off := 0; off < len(b); off += size {
					var v int64
					switch q.typ {
					case plyInt32, plyUint32:
						var u uint32
						if p.big {
							u = binary.BigEndian.Uint32(b[off:])
						} else {
							u = binary.LittleEndian.Uint32(b[off:])
						}
						v = int64(u)
						if q.typ == plyInt32 {
							v = int64(int32(u))
						}
					default:
						v = int64(q.typ.decode(b[off:], p.big))
					}
					if v < 0 || v >= p.nv {
						return fmt.Errorf("PLY face %d names vertex %d but there are %d vertices", face, v, p.nv)
					}
					p.fan.add(int32(v))
				}
				br.Discard(len(b))
				left -= len(b)
				if err != nil && left > 0 {
					return e.truncated(face)
				}
			}
		}
	}
	return nil
}

func (p *plyReader) skip(e *plyElement) error {
	if len(e.props) == 0 {
		return nil // takes no bytes, however many there are
	}
	if p.enc == PLYASCII {
		return p.asciiRecords(e, nil, nil)
	}
	if rec := e.fixedSize(); rec > 0 {
		return p.fixedRecords(e, rec, nil)
	}
	return p.binaryRecords(e, nil, nil)
}

// fixedRecords reads the records of an element without lists in blocks and
// calls fn, if not nil, on each.
func (p *plyReader) fixedRecords(e *plyElement, rec int, fn func([]byte)) error {
	br := p.lr.br
	if fn == nil {
		if e.count > 0 && rec > 0 {
			want := e.count * int64(rec)
			if e.count > math.MaxInt64/int64(rec) {
				want = math.MaxInt64
			}
			got, err := discard(br, want)
			if err != nil || got < want {
				return e.truncated(got / int64(rec))
			}
		}
		return nil
	}
	per := max(1, (32<<10)/rec)
	buf := make([]byte, rec*int(min(int64(per), max(e.count, 1))))
	for done := int64(0); done < e.count; {
		k := min(e.count-done, int64(len(buf)/rec))
		n, err := io.ReadFull(br, buf[:k*int64(rec)])
		for off := 0; off+rec <= n; off += rec {
			fn(buf[off : off+rec])
		}
		done += int64(n / rec)
		if err != nil {
			return e.truncated(done)
		}
	}
	return nil
}

// discard skips n bytes and returns how many it skipped.
func discard(br *bufio.Reader, n int64) (int64, error) {
	var got int64
	for got < n {
		k := int(min(n-got, 1<<30))
		d, err := br.Discard(k)
		got += int64(d)
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// listCount reads the count of a binary list property of record done.
func (p *plyReader) listCount(e *plyElement, q plyProp, done int64) (int, error) {
	b, err := p.lr.br.Peek(q.count.size())
	if err != nil {
		return 0, e.truncated(done)
	}
	n := q.count.decode(b, p.big)
	p.lr.br.Discard(len(b))
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("PLY %s %d has a list of %v items", e.name, done, n)
	}
	return int(n), nil
}

// skipProp skips one binary property of record done.
func (p *plyReader) skipProp(e *plyElement, q plyProp, done int64) error {
	n := 1
	if q.count != plyNone {
		var err error
		if n, err = p.listCount(e, q, done); err != nil {
			return err
		}
	}
	want := int64(n) * int64(q.typ.size())
	if got, _ := discard(p.lr.br, want); got < want {
		return e.truncated(done)
	}
	return nil
}

// binaryRecords reads binary records one value at a time, skipping lists.
// scalar, if not nil, gets the index and value of each scalar property; end,
// if not nil, is called after each record.
func (p *plyReader) binaryRecords(e *plyElement, scalar func(int, float64) error, end func()) error {
	br := p.lr.br
	for done := int64(0); done < e.count; done++ {
		for i, q := range e.props {
			if q.count != plyNone || scalar == nil {
				if err := p.skipProp(e, q, done); err != nil {
					return err
				}
				continue
			}
			b, err := br.Peek(q.typ.size())
			if err != nil {
				return e.truncated(done)
			}
			if err := scalar(i, q.typ.decode(b, p.big)); err != nil {
				return err
			}
			br.Discard(len(b))
		}
		if end != nil {
			end()
		}
	}
	return nil
}

// asciiList describes the one list property of an ASCII record whose items
// are wanted: start is called before the items, item on each.
type asciiList struct {
	at    int
	start func()
	item  func(float64) error
}

// asciiRecords reads ASCII records, one a line, skipping blank lines. scalar
// and end are as for binaryRecords; lists are skipped unless wanted is given.
func (p *plyReader) asciiRecords(e *plyElement, scalar func(int, float64) error, end func(), wanted ...asciiList) error {
	if len(e.props) == 0 {
		return nil
	}
	var f []string
	for done := int64(0); done < e.count; done++ {
		var line string
		for {
			var err error
			line, err = p.lr.next()
			if err == io.EOF {
				return e.truncated(done)
			}
			if err != nil {
				return err
			}
			f = appendFields(f[:0], line)
			if len(f) > 0 {
				break
			}
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("PLY line %d (%s %d): %s", p.lr.line, e.name, done, fmt.Sprintf(format, args...))
		}
		at := 0
		for i, q := range e.props {
			if at >= len(f) {
				return bad("%d values are too few for the header's properties", len(f))
			}
			bits := 64
			if q.typ == plyFloat32 && q.count == plyNone {
				bits = 32 // parse to the nearest float32, not via float64
			}
			v, err := strconv.ParseFloat(f[at], bits)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return bad("bad number %q", excerpt(f[at]))
			}
			at++
			if q.count == plyNone {
				if scalar != nil {
					if err := scalar(i, v); err != nil {
						return err
					}
				}
				continue
			}
			if v != math.Trunc(v) || v < 0 || v > float64(len(f)-at) {
				return bad("list %s of %q items but %d values follow", q.name, excerpt(f[at-1]), len(f)-at)
			}
			n := int(v)
			if len(wanted) == 0 || wanted[0].at != i {
				at += n
				continue
			}
			wanted[0].start()
			for _, s := range f[at : at+n] {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return bad("bad number %q", excerpt(s))
				}
				if err := wanted[0].item(v); err != nil {
					return err
				}
			}
			at += n
		}
		if at != len(f) {
			return bad("%d values but the header's properties take %d", len(f), at)
		}
		if end != nil {
			end()
		}
	}
	return nil
}

func writePLY(w io.Writer, c *Cloud, opt PLYOptions) error {
	bw := bufio.NewWriter(w)
	var order binary.AppendByteOrder
	switch opt.Encoding {
	case PLYBinaryLittleEndian:
		order = binary.LittleEndian
	case PLYBinaryBigEndian:
		order = binary.BigEndian
	case PLYASCII:
	default:
		return fmt.Errorf("unknown PLY encoding %d", int(opt.Encoding))
	}
	fmt.Fprintf(bw, "ply\nformat %s 1.0\n", opt.Encoding)
	if opt.Comment != "" {
		for _, l := range strings.Split(opt.Comment, "\n") {
			fmt.Fprintf(bw, "comment %s\n", strings.TrimRight(l, "\r"))
		}
	}
	fmt.Fprintf(bw, "element vertex %d\nproperty float x\nproperty float y\nproperty float z\n", c.Len())
	if c.Normals != nil {
		bw.WriteString("property float nx\nproperty float ny\nproperty float nz\n")
	}
	if c.IsMesh() {
		fmt.Fprintf(bw, "element face %d\nproperty list uchar int vertex_indices\n", c.NumFaces())
	}
	bw.WriteString("end_header\n")

	var b []byte
	for i := 0; i < c.Len(); i++ {
		b = b[:0]
		vals := c.XYZ[3*i : 3*i+3]
		for k := 0; k < 2; k++ {
			for j, v := range vals {
				if order != nil {
					b = order.AppendUint32(b, math.Float32bits(v))
					continue
				}
				if j > 0 || k > 0 {
					b = append(b, ' ')
				}
				b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
			}
			if c.Normals == nil {
				break
			}
			vals = c.Normals[3*i : 3*i+3]
		}
		if order == nil {
			b = append(b, '\n')
		}
		bw.Write(b)
	}
	for i := 0; i < len(c.Faces); i += 3 {
		b = b[:0]
		if order != nil {
			b = append(b, 3)
			for _, v := range c.Faces[i : i+3] {
				b = order.AppendUint32(b, uint32(v))
			}
		} else {
			b = append(b, '3')
			for _, v := range c.Faces[i : i+3] {
				b = append(b, ' ')
				b = strconv.AppendInt(b, int64(v), 10)
			}
			b = append(b, '\n')
		}
		bw.Write(b)
	}
	return bw.Flush()
}
