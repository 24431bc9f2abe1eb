package pointcloud

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format names a point-cloud or mesh file format.
type Format string

// The formats that Read and Write know.
const (
	PLY Format = "ply" // Stanford polygon file: ASCII or binary, points, normals, faces
	OFF Format = "off" // Object File Format (ModelNet): points and polygons
	STL Format = "stl" // stereolithography triangles, ASCII or binary
	OBJ Format = "obj" // Wavefront OBJ: v, vn and f statements
	XYZ Format = "xyz" // text, one point per line: .xyz, .xyzn, .txt, .csv, .pts
	NPY Format = "npy" // NumPy array of shape (N, 3), (N, ≥6) or (1, N, C)
)

// FormatOf returns the format that a file name's extension names, ignoring case.
func FormatOf(path string) (Format, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".ply":
		return PLY, nil
	case ".off":
		return OFF, nil
	case ".stl":
		return STL, nil
	case ".obj":
		return OBJ, nil
	case ".xyz", ".xyzn", ".txt", ".csv", ".pts":
		return XYZ, nil
	case ".npy":
		return NPY, nil
	case "":
		return "", errors.New("no file extension to tell the format by")
	default:
		return "", fmt.Errorf("unknown point-cloud extension %q (want .ply, .off, .stl, .obj, .xyz, .xyzn, .txt, .csv, .pts or .npy)", ext)
	}
}

// Read reads a cloud in format f from r and validates it. When r knows its
// length (an *os.File, *bytes.Reader, *strings.Reader or *bytes.Buffer) the
// readers use it to bound what they allocate for the counts a header claims.
func Read(r io.Reader, f Format) (*Cloud, error) {
	return readFormat(r, f, sizeHint(r), false)
}

func readFormat(r io.Reader, f Format, size int64, pts bool) (*Cloud, error) {
	var (
		c   *Cloud
		err error
	)
	if f != NPY {
		br := bufio.NewReader(r)
		if err := checkTextEncoding(br); err != nil {
			return nil, err
		}
		r = br
	}
	switch f {
	case PLY:
		c, err = readPLY(r, size)
	case OFF:
		c, err = readOFF(r, size)
	case STL:
		c, err = readSTL(r)
	case OBJ:
		c, err = readOBJ(r)
	case XYZ:
		c, err = readXYZ(r, !pts)
	case NPY:
		c, err = readNPY(r, size)
	default:
		return nil, fmt.Errorf("unknown format %q", string(f))
	}
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkTextEncoding refuses UTF-16 text, which the text formats would
// otherwise read as a file without points, and skips a UTF-8 byte-order
// mark (see CheckText).
func checkTextEncoding(br *bufio.Reader) error {
	b, _ := br.Peek(4)
	bom, err := CheckText(b)
	if err != nil {
		return err
	}
	br.Discard(bom)
	return nil
}

// CheckText looks at the first four bytes (or fewer) of a text file. It
// returns an error naming the encoding for UTF-16 text, which pcx does not
// read, and otherwise the length of a UTF-8 byte-order mark to skip (0 or
// 3). Text without a byte-order mark is taken as UTF-16 when its first
// four bytes are two ASCII characters each beside a zero byte.
func CheckText(head []byte) (bom int, err error) {
	b := head
	utf16 := ""
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		return 3, nil
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), len(b) >= 4 && b[0] > 0 && b[0] < 0x80 && b[1] == 0 && b[2] > 0 && b[2] < 0x80 && b[3] == 0:
		utf16 = "UTF-16LE"
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}), len(b) >= 4 && b[0] == 0 && b[1] > 0 && b[1] < 0x80 && b[2] == 0 && b[3] > 0 && b[3] < 0x80:
		utf16 = "UTF-16BE"
	default:
		return 0, nil
	}
	return 0, fmt.Errorf("the file is %s text; pcx reads ASCII or UTF-8: convert it first, e.g. iconv -f %s -t UTF-8", utf16, utf16)
}

// ReadFile reads and validates the cloud in the file at path, choosing the
// format by the extension (see FormatOf). Every error names the file.
//
// A .pts file is read as x y z only: its further columns are intensity and
// colour, not normals.
func ReadFile(path string) (*Cloud, error) {
	c, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func readFile(path string) (*Cloud, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(path)
	if err != nil {
		// The os error already names the path; return its cause alone.
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer file.Close()
	return readFormat(file, f, sizeHint(file), strings.EqualFold(filepath.Ext(path), ".pts"))
}

// Write writes c to w in format f after checking it with Validate. Point
// formats (XYZ, NPY) drop the faces of a mesh; STL needs faces. PLY is
// written as binary little-endian (see WritePLY for the other encodings), XYZ
// as space-separated "x y z [nx ny nz]".
func Write(w io.Writer, c *Cloud, f Format) error {
	if err := c.Validate(); err != nil {
		return err
	}
	switch f {
	case PLY:
		return writePLY(w, c, PLYOptions{})
	case OFF:
		return writeOFF(w, c)
	case STL:
		return writeSTL(w, c)
	case OBJ:
		return writeOBJ(w, c)
	case XYZ:
		return writeXYZ(w, c, ' ', true)
	case NPY:
		return writeNPY(w, c)
	default:
		return fmt.Errorf("unknown format %q", string(f))
	}
}

// WriteFile writes c to path atomically (see WriteFileAtomic), choosing the
// format by the extension. Files ending .txt or .csv get comma-separated
// "x,y,z[,nx,ny,nz]" lines as in ModelNet40; .xyz and .xyzn get
// space-separated lines; .pts gets a count line and "x y z" lines, without
// normals.
func WriteFile(path string, c *Cloud) error {
	f, err := FormatOf(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	write := func(w io.Writer) error { return Write(w, c, f) }
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".txt", ".csv":
		write = func(w io.Writer) error { return writeXYZ(w, c, ',', true) }
	case ".pts":
		write = func(w io.Writer) error {
			if _, err := fmt.Fprintf(w, "%d\n", c.Len()); err != nil {
				return err
			}
			return writeXYZ(w, c, ' ', false)
		}
	}
	if err := WriteFileAtomic(path, write); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// sizeHint returns how many bytes are left to read from r, or -1 when r
// does not say.
func sizeHint(r io.Reader) int64 {
	switch r := r.(type) {
	case *bytes.Reader:
		return int64(r.Len())
	case *strings.Reader:
		return int64(r.Len())
	case *bytes.Buffer:
		return int64(r.Len())
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		off, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return max(fi.Size()-off, 0)
	}
	return -1
}

// maxPoints is the most points a reader accepts: face indices are int32.
const maxPoints = math.MaxInt32

// capFor returns a starting capacity for count records that take at least
// minBytes bytes each, when size bytes remain (size < 0: unknown). Readers
// start there and grow by appending, so a header that lies about its counts
// costs no more memory than the data it actually holds.
func capFor(count, size int64, minBytes int) int {
	const limit = 1 << 12
	c := min(count, limit)
	if size >= 0 {
		c = min(count, size/int64(max(minBytes, 1)))
	}
	return int(max(c, 0))
}

// maxLine is the longest text line the text readers accept.
const maxLine = 1 << 20

// lineReader reads text lines and counts them for error messages.
type lineReader struct {
	br   *bufio.Reader
	line int    // number of the line last returned, from 1
	buf  []byte // holds lines longer than the bufio buffer
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its line ending. It returns io.EOF
// when no bytes are left.
func (lr *lineReader) next() (string, error) {
	lr.buf = lr.buf[:0]
	for {
		b, err := lr.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			lr.buf = append(lr.buf, b...)
			if len(lr.buf) > maxLine {
				return "", fmt.Errorf("line %d is longer than %d bytes", lr.line+1, maxLine)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return "", err
		}
		if err == io.EOF && len(b) == 0 && len(lr.buf) == 0 {
			return "", io.EOF
		}
		lr.line++
		if len(lr.buf) > 0 {
			lr.buf = append(lr.buf, b...)
			b = lr.buf
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) > maxLine {
			return "", fmt.Errorf("line %d is longer than %d bytes", lr.line, maxLine)
		}
		return string(b), nil
	}
}

// isSpace reports whether b separates fields in text formats.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\v' || b == '\f'
}

// appendFields appends the whitespace-separated fields of s to dst.
func appendFields(dst []string, s string) []string {
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		if j > i {
			dst = append(dst, s[i:j])
		}
		i = j
	}
	return dst
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	if len(s) > 40 {
		n := 40
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "…"
	}
	return s
}

// parseFloat32 parses a decimal number as float32, with a short error.
func parseFloat32(s string) (float32, error) {
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("number %q is out of float32 range", excerpt(s))
		}
		return 0, fmt.Errorf("bad number %q", excerpt(s))
	}
	return float32(v), nil
}

// parseCount parses a non-negative integer count or index.
func parseCount(s, what string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad %s %q", what, excerpt(s))
	}
	return v, nil
}

// fan appends the triangles (v0, v[i], v[i+1]) of a polygon's fan.
type fan struct {
	faces     []int32
	first, at int32
	n         int
}

func (f *fan) start() { f.n = 0 }

func (f *fan) add(v int32) {
	switch f.n {
	case 0:
		f.first = v
	case 1:
	default:
		f.faces = append(f.faces, f.first, f.at, v)
	}
	f.at = v
	f.n++
}
