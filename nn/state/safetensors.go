package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pcx-dev/pcx/internal/atomicfile"
)

// ChecksumKey is the metadata entry in which pcx records a checksum of each
// safetensors file it writes: the SHA-256, as 64 lowercase hex digits, of
// the whole file with those 64 digits replaced by the character '0'. Other
// readers see an ordinary string entry; DecodeSafetensors checks it when
// present (files from other tools lack it and load as before), and leaves
// it out of Dict.Meta.
const ChecksumKey = "pcx_sha256"

// ErrChecksum is wrapped by the error for a file whose content does not
// match its ChecksumKey entry: it was changed or damaged after it was
// written (a flipped bit on disk, a partial copy, an edit).
var ErrChecksum = errors.New("checksum mismatch")

// checksumField is how ChecksumKey and its value start in a header pcx
// writes; the 64 digits follow, then a closing quote.
const checksumField = `"` + ChecksumKey + `":"`

// maxSafetensorsHeader is the largest header accepted, as in the reference
// implementation (100 MB).
const maxSafetensorsHeader = 100_000_000

// ioChunk is the size of the pieces in which tensor data is read and
// written, so that raw bytes never need a second full-size buffer.
const ioChunk = 1 << 20

// ReadSafetensors reads the safetensors file at path. Errors name the file.
func ReadSafetensors(path string) (*Dict, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := DecodeSafetensors(f, size)
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	return d, nil
}

// WriteSafetensors writes d to path in the safetensors format, atomically:
// the data goes to a temporary file in the same directory that is synced and
// renamed over path, and is removed if anything fails.
func WriteSafetensors(path string, d *Dict) error {
	if err := d.Validate(); err != nil { // before creating any file
		return fmt.Errorf("state: %s: %w", path, err)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return EncodeSafetensors(w, d) }); err != nil {
		return fmt.Errorf("state: %s: %w", path, err)
	}
	return nil
}

// stEntry is one tensor of a safetensors header, as in the file.
type stEntry struct {
	DType   *string  `json:"dtype"`
	Shape   *[]int64 `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// stTensor is a validated header entry.
type stTensor struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int64
}

// DecodeSafetensors reads a safetensors file of the given size from r.
// Every part of the header is checked before data is read: the header length
// against the file size, the JSON (UTF-8, an object, no duplicate or
// unknown keys), each tensor's dtype, shape and offsets, whose byte count
// must be the shape's element count times the dtype size, and the offsets
// together, which must tile the data buffer exactly, without gaps or
// overlaps. So no allocation exceeds a small multiple of size. The returned
// Dict lists its keys in the order of their data and has a non-nil Meta.
func DecodeSafetensors(r io.ReaderAt, size int64) (*Dict, error) {
	head, header, err := readSafetensorsHeader(r, size)
	if err != nil {
		return nil, err
	}
	dataStart := 8 + int64(len(header))
	bufLen := size - dataStart
	tensors, meta, err := parseSafetensorsHeader(header, bufLen)
	if err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	var sum hash.Hash
	want, checked := meta[ChecksumKey]
	if checked {
		if sum, err = checksumHeader(head[:], header, want); err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		delete(meta, ChecksumKey)
	}
	d := &Dict{Keys: make([]string, 0, len(tensors)), Tensors: make(map[string]*Tensor, len(tensors)), Meta: meta}
	for _, st := range tensors { // in data order, so sum sees the data buffer as it is
		t, err := readSafetensor(r, dataStart, st, sum)
		if err != nil {
			if checked && !errors.Is(err, errReading) && !dataMatches(r, head[:], header, dataStart, size, want) {
				// Damage, rather than a writer's mistake: say so.
				err = checksumError()
			}
			return nil, fmt.Errorf("safetensors: tensor %s: %w", Quote(st.name), err)
		}
		d.Keys = append(d.Keys, st.name)
		d.Tensors[st.name] = t
	}
	if checked && hex.EncodeToString(sum.Sum(nil)) != want {
		return nil, fmt.Errorf("safetensors: %w", checksumError())
	}
	return d, nil
}

// ReadSafetensorsMeta reads only the metadata of the safetensors file at
// path (its header is checked as ReadSafetensors checks it; the data is
// not read).
func ReadSafetensorsMeta(path string) (map[string]string, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, header, err := readSafetensorsHeader(f, size)
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	_, meta, err := parseSafetensorsHeader(header, size-8-int64(len(header)))
	if err != nil {
		return nil, fmt.Errorf("state: %s: safetensors: header: %w", path, err)
	}
	delete(meta, ChecksumKey)
	return meta, nil
}

// readSafetensorsHeader reads the 8-byte length and the JSON header it
// gives, checked against the file's size and the header limit.
func readSafetensorsHeader(r io.ReaderAt, size int64) (head [8]byte, header []byte, err error) {
	if size < 8 {
		return head, nil, fmt.Errorf("safetensors: file of %d bytes is too short for the 8-byte header length", size)
	}
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return head, nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(head[:])
	if n > uint64(size-8) {
		return head, nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after it", n, size-8)
	}
	if n > maxSafetensorsHeader {
		return head, nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d", n, maxSafetensorsHeader)
	}
	header = make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return head, nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	return head, header, nil
}

func checksumError() error {
	return fmt.Errorf("%w: the file's SHA-256 is not the %s it was written with, so it was changed or damaged since", ErrChecksum, ChecksumKey)
}

// errReading marks a failure to read the file, as opposed to bad content.
var errReading = errors.New("reading data")

// dataMatches reports whether a file of the given size whose header
// records want under ChecksumKey matches it.
func dataMatches(r io.ReaderAt, length, header []byte, dataStart, size int64, want string) bool {
	sum, err := checksumHeader(length, header, want)
	if err != nil {
		return false
	}
	if _, err := io.Copy(sum, io.NewSectionReader(r, dataStart, size-dataStart)); err != nil {
		return false
	}
	return hex.EncodeToString(sum.Sum(nil)) == want
}

// checksumHeader starts the checksum of a file whose header records want
// under ChecksumKey: it hashes the length field and the header with the
// digits zeroed.
func checksumHeader(length, header []byte, want string) (hash.Hash, error) {
	if _, err := hex.DecodeString(want); err != nil || len(want) != 2*sha256.Size || strings.ToLower(want) != want {
		return nil, fmt.Errorf("%w: %s %s is not 64 lowercase hex digits", ErrChecksum, ChecksumKey, Quote(want))
	}
	field := checksumField + want + `"`
	i := bytes.Index(header, []byte(field))
	if i < 0 {
		return nil, fmt.Errorf("%w: the header holds %s but not as pcx writes it, so it was rewritten since", ErrChecksum, ChecksumKey)
	}
	zeroed := slices.Clone(header)
	copy(zeroed[i+len(checksumField):], strings.Repeat("0", len(want)))
	sum := sha256.New()
	sum.Write(length)
	sum.Write(zeroed)
	return sum, nil
}

// parseSafetensorsHeader validates the JSON header of a file whose data
// buffer has bufLen bytes and returns its tensors in data order.
func parseSafetensorsHeader(header []byte, bufLen int64) ([]stTensor, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.DisallowUnknownFields()
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil, nil, clipErr(err)
	}
	var tensors []stTensor
	meta := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, clipErr(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("unexpected %v", tok)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("key %s appears twice", Quote(name))
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fmt.Errorf("__metadata__ must map strings to strings: %w", clipErr(err))
			}
			if meta == nil { // "__metadata__": null
				meta = map[string]string{}
			}
			continue
		}
		var e stEntry
		if err := dec.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("tensor %s: %w", Quote(name), clipErr(err))
		}
		st, err := checkEntry(name, e, bufLen)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %s: %w", Quote(name), err)
		}
		tensors = append(tensors, st)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, clipErr(err)
	}
	if rest := header[dec.InputOffset():]; strings.Trim(string(rest), " \t\r\n") != "" {
		return nil, nil, fmt.Errorf("%d bytes after the JSON object are not white space", len(rest))
	}
	// The data of all tensors must tile [0, bufLen) exactly.
	slices.SortFunc(tensors, func(a, b stTensor) int {
		if a.begin != b.begin {
			return cmpInt64(a.begin, b.begin)
		}
		if a.end != b.end {
			return cmpInt64(a.end, b.end)
		}
		return strings.Compare(a.name, b.name)
	})
	var pos int64
	for i, st := range tensors {
		if st.begin < pos {
			return nil, nil, fmt.Errorf("tensor %s (bytes %d to %d) overlaps tensor %s (ending at %d)",
				Quote(st.name), st.begin, st.end, Quote(tensors[i-1].name), pos)
		}
		if st.begin > pos {
			return nil, nil, fmt.Errorf("bytes %d to %d of the data, before tensor %s, belong to no tensor", pos, st.begin, Quote(st.name))
		}
		pos = st.end
	}
	if pos != bufLen {
		return nil, nil, fmt.Errorf("tensors cover %d bytes but the data buffer has %d", pos, bufLen)
	}
	return tensors, meta, nil
}

func cmpInt64(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// checkEntry validates one header entry against a buffer of bufLen bytes.
func checkEntry(name string, e stEntry, bufLen int64) (stTensor, error) {
	st := stTensor{name: name}
	if e.DType == nil || e.Shape == nil || e.Offsets == nil {
		return st, errors.New(`needs "dtype", "shape" and "data_offsets"`)
	}
	dt, ok := parseDType(*e.DType)
	if !ok {
		return st, fmt.Errorf("unknown dtype %s", Quote(*e.DType))
	}
	st.dtype = dt
	st.shape = make([]int, len(*e.Shape))
	for i, v := range *e.Shape {
		if v < 0 || v > math.MaxInt {
			return st, fmt.Errorf("invalid dimension %d in shape %s", v, FormatShape(*e.Shape))
		}
		st.shape[i] = int(v)
	}
	numel, ok := numElements(st.shape)
	if !ok || numel > math.MaxInt64/8 {
		return st, fmt.Errorf("shape %s has too many elements", FormatShape(*e.Shape))
	}
	if len(*e.Offsets) != 2 {
		return st, fmt.Errorf("data_offsets %s must be [begin, end]", FormatShape(*e.Offsets))
	}
	st.begin, st.end = (*e.Offsets)[0], (*e.Offsets)[1]
	if st.begin < 0 || st.end < st.begin || st.end > bufLen {
		return st, fmt.Errorf("data_offsets [%d, %d] are not within the %d-byte data buffer", st.begin, st.end, bufLen)
	}
	if want := int64(numel) * int64(dt.Size()); st.end-st.begin != want {
		return st, fmt.Errorf("data_offsets [%d, %d] hold %d bytes but %v %s needs %d",
			st.begin, st.end, st.end-st.begin, dt, FormatShape(st.shape), want)
	}
	return st, nil
}

// readSafetensor reads and decodes one validated tensor, passing its raw
// bytes to sum if that is not nil.
func readSafetensor(r io.ReaderAt, dataStart int64, st stTensor, sum hash.Hash) (*Tensor, error) {
	esize := int64(st.dtype.Size())
	numel := int((st.end - st.begin) / esize)
	t := &Tensor{Shape: st.shape, DType: st.dtype}
	if st.dtype.IsFloat() {
		t.F32 = make([]float32, numel)
	} else {
		t.I64 = make([]int64, numel)
	}
	chunk := min(int64(ioChunk), st.end-st.begin)
	buf := make([]byte, chunk)
	for done := int64(0); done < int64(numel); {
		k := min(chunk/esize, int64(numel)-done) // elements in this piece
		raw := buf[:k*esize]
		if _, err := r.ReadAt(raw, dataStart+st.begin+done*esize); err != nil {
			return nil, fmt.Errorf("%w: %w", errReading, err)
		}
		if sum != nil {
			sum.Write(raw)
		}
		if st.dtype.IsFloat() {
			decodeFloats(t.F32[done:done+k], st.dtype, raw)
		} else if err := decodeInts(t.I64[done:done+k], st.dtype, raw); err != nil {
			return nil, fmt.Errorf("at element %d: %w", done, err)
		}
		done += k
	}
	return t, nil
}

// EncodeSafetensors writes d to w in the safetensors format, as the
// reference implementation lays it out: "__metadata__" first, then the
// tensors sorted by name, their data in the same order; the header is
// padded with spaces to a multiple of 8 bytes. The metadata is d.Meta plus
// the file's checksum under ChecksumKey (any ChecksumKey in d.Meta is
// replaced). d must pass Validate.
func EncodeSafetensors(w io.Writer, d *Dict) error {
	if err := d.Validate(); err != nil {
		return err
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range d.Tensors {
			if !yield(k) {
				return
			}
		}
	})
	meta := map[string]string{ChecksumKey: strings.Repeat("0", 2*sha256.Size)}
	for k, v := range d.Meta {
		if k != ChecksumKey {
			meta[k] = v
		}
	}
	var h bytes.Buffer
	h.WriteString(`{"__metadata__":{`)
	for i, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range meta {
			if !yield(k) {
				return
			}
		}
	}) {
		if i > 0 {
			h.WriteByte(',')
		}
		writeJSONString(&h, k)
		h.WriteByte(':')
		writeJSONString(&h, meta[k])
	}
	h.WriteByte('}')
	var off int64
	for _, k := range names {
		h.WriteByte(',')
		if k == "__metadata__" {
			return errors.New(`a tensor cannot be named "__metadata__"`)
		}
		t := d.Tensors[k]
		if !t.DType.IsFloat() {
			if err := checkInts(t.DType, t.I64); err != nil {
				return fmt.Errorf("tensor %s: %w", Quote(k), err)
			}
		}
		n := int64(t.NumElements()) * int64(t.DType.Size())
		writeJSONString(&h, k)
		fmt.Fprintf(&h, `:{"dtype":"%v","shape":[`, t.DType)
		for j, s := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			fmt.Fprint(&h, s)
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+n)
		off += n
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	var head [8]byte
	binary.LittleEndian.PutUint64(head[:], uint64(h.Len()))
	buf := make([]byte, 0, min(ioChunk, off+8))

	// The checksum covers the file as written with zeros for its digits:
	// hash the data once before writing it.
	sum := sha256.New()
	sum.Write(head[:])
	sum.Write(h.Bytes())
	for _, k := range names {
		writeTensorData(sum, d.Tensors[k], buf) // a hash never fails
	}
	digits := bytes.Index(h.Bytes(), []byte(checksumField)) + len(checksumField)
	hex.Encode(h.Bytes()[digits:], sum.Sum(nil))

	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, k := range names {
		if err := writeTensorData(w, d.Tensors[k], buf); err != nil {
			return err
		}
	}
	return nil
}

// writeTensorData writes t's values as t.DType, in pieces through buf.
func writeTensorData(w io.Writer, t *Tensor, buf []byte) error {
	per := cap(buf) / 8
	n := t.NumElements()
	for i := 0; i < n; i += per {
		j := min(i+per, n)
		var out []byte
		if t.DType.IsFloat() {
			out = encodeFloats(buf[:0], t.DType, t.F32[i:j])
		} else {
			out = encodeInts(buf[:0], t.DType, t.I64[i:j])
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// writeJSONString writes s as a JSON string, without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // cannot fail for a string
	b.Truncate(b.Len() - 1)
}

// openSized opens path for reading and returns its size; errors carry the
// package's prefix.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("state: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("state: %w", err)
	}
	return f, st.Size(), nil
}
