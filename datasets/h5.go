package datasets

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/scigolib/hdf5"

	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/nn/state"
)

// ErrH5Layout is wrapped by ReadH5's error for a dataset stored in a layout
// that the pure-Go HDF5 reader cannot follow: chunked storage written with
// HDF5 1.10+ file-format features (h5py's libver='latest').
var ErrH5Layout = errors.New("unsupported HDF5 storage layout")

// h5Meta is what the HDF5 library tells about a dataset without reading it.
type h5Meta struct {
	class  string // "float", "integer", "string", "compound", ...
	size   int    // bytes per element
	dims   []uint64
	layout string   // "compact", "contiguous", "chunked", "virtual", ...
	chunk  []uint64 // chunked: the chunk's shape and, last, the element size
}

// The hdf5 module exposes a dataset's type, shape and layout only as the
// text of Dataset.Info, e.g.
// "Dataset: float (size=4 bytes), 3D array [6 64 3], contiguous (address=0x800, size=4608)".
var h5InfoRE = regexp.MustCompile(`^Dataset: (\S+) \(size=(\d+) bytes\), (scalar|null|unknown|\d+D array \[[^\]]*\]), (\S+)(?: \(chunks=\[([\d ]*)\]\))?`)

func parseH5Info(s string) (*h5Meta, error) {
	m := h5InfoRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("unexpected dataset description %s", state.Quote(s))
	}
	size, err := strconv.Atoi(m[2])
	if err != nil {
		return nil, fmt.Errorf("unexpected dataset description %s", state.Quote(s))
	}
	meta := &h5Meta{class: m[1], size: size, layout: m[4]}
	for _, f := range strings.Fields(m[5]) {
		d, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected chunk shape %s", state.Quote(m[5]))
		}
		meta.chunk = append(meta.chunk, d)
	}
	switch m[3] {
	case "scalar":
		meta.dims = []uint64{}
	case "null", "unknown":
		meta.dims = nil
	default:
		inner := m[3][strings.IndexByte(m[3], '[')+1 : len(m[3])-1]
		for _, f := range strings.Fields(strings.ReplaceAll(inner, " x ", " ")) {
			d, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("unexpected dataset shape %s", state.Quote(m[3]))
			}
			meta.dims = append(meta.dims, d)
		}
	}
	return meta, nil
}

func (m *h5Meta) shape() string {
	if m.dims == nil {
		return "no shape"
	}
	parts := make([]string, len(m.dims))
	for i, d := range m.dims {
		parts[i] = strconv.FormatUint(d, 10)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (m *h5Meta) dtype() string {
	return fmt.Sprintf("%s of %d bytes", m.class, m.size)
}

// elements returns the number of values, or false on overflow.
func (m *h5Meta) elements() (uint64, bool) {
	n := uint64(1)
	for _, d := range m.dims {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// plausible reports whether a dataset of this size can be stored in a file of
// fileSize bytes, so that a lying header cannot make the reader allocate
// more memory than the data could fill.
func (m *h5Meta) plausible(fileSize int64) bool {
	n, ok := m.elements()
	if !ok {
		return false
	}
	hi, bytes := bits.Mul64(n, uint64(m.size))
	if hi != 0 {
		return false
	}
	switch m.layout {
	case "contiguous", "compact":
		return bytes <= uint64(fileSize)
	case "chunked":
		// deflate expands at most about 1032:1
		return bytes <= 1100*uint64(fileSize)+1<<20
	}
	return false
}

// h5Guard runs fn, turning a panic inside the HDF5 library into an error.
func h5Guard(path string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed HDF5 file (the HDF5 reader failed: %v)", path, r)
		}
	}()
	return fn()
}

// h5Precheck guards the HDF5 library against the one lie found by fuzzing
// that recover() cannot catch: a local heap (the name table of an h5py
// group) whose header claims a data segment larger than the file. The
// library allocates that size before reading, and an allocation the machine
// cannot back kills the process. The library loads a heap only where the
// signature "HEAP" stands, so every "HEAP" in the file is checked; one that
// claims too much is an error when its address is written anywhere in the
// file (point data that happens to spell "HEAP" is not referenced).
func h5Precheck(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var sb [16]byte
	if _, err := f.ReadAt(sb[:], 0); err != nil || string(sb[:8]) != "\x89HDF\r\n\x1a\n" {
		return nil // the library rejects it before reading any heap
	}
	offsetSize, lengthSize, order, ok := h5Sizes(sb)
	if !ok {
		return nil
	}
	readUint := func(b []byte, n int) uint64 { return h5Uint(order, b, n) }
	var suspects []int64
	hdr := make([]byte, 8+lengthSize)
	err = scanFile(f, size, []byte("HEAP"), func(at int64) bool {
		if k, _ := f.ReadAt(hdr, at); k == len(hdr) && readUint(hdr[8:], lengthSize) > uint64(size) {
			suspects = append(suspects, at)
		}
		return len(suspects) < 64
	})
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for _, at := range suspects {
		addr := make([]byte, 8)
		if order == binary.BigEndian {
			binary.BigEndian.PutUint64(addr, uint64(at))
			addr = addr[8-offsetSize:]
		} else {
			binary.LittleEndian.PutUint64(addr, uint64(at))
			addr = addr[:offsetSize]
		}
		referenced := false
		if err := scanFile(f, size, addr, func(int64) bool { referenced = true; return false }); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if referenced {
			k, _ := f.ReadAt(hdr, at)
			return fmt.Errorf("%s: malformed HDF5 file: the local heap at offset %d claims %d bytes, more than the file holds",
				path, at, readUint(hdr[8:k], lengthSize))
		}
	}
	return nil
}

// h5Sizes reads the sizes of addresses and lengths and the byte order from
// the first 16 bytes of an HDF5 file, as the library reads them.
func h5Sizes(sb [16]byte) (offsetSize, lengthSize int, order binary.ByteOrder, ok bool) {
	order = binary.LittleEndian
	switch sb[8] {
	case 0:
		offsetSize, lengthSize = int(sb[13]), int(sb[14])
	case 2, 3:
		if sb[9]&1 != 0 {
			order = binary.BigEndian
		}
		switch b := sb[10]; b {
		case 1, 2, 4, 8:
			offsetSize, lengthSize = int(b), 8
		default:
			offsetSize, lengthSize = 1<<(b&0x0f), 1<<((b>>4)&0x0f)
		}
	default:
		return 0, 0, nil, false
	}
	if offsetSize == 0 {
		offsetSize = 8
	}
	if lengthSize == 0 {
		lengthSize = 8
	}
	valid := func(n int) bool { return n == 1 || n == 2 || n == 4 || n == 8 }
	return offsetSize, lengthSize, order, valid(offsetSize) && valid(lengthSize)
}

func h5Uint(order binary.ByteOrder, b []byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(order.Uint16(b))
	case 4:
		return uint64(order.Uint32(b))
	}
	return order.Uint64(b)
}

// h5CheckChunkIndex guards the library's slice reader, which allocates a
// chunk's stored size, as its index claims it, before reading the chunk:
// every version-1 B-tree node of raw-data chunks (signature "TREE", type 1)
// with keys of this rank (the chunk's dimensions plus one) whose child
// addresses all lie in the file is checked, and a chunk claimed larger than
// the file is an error. The deflate-compressed chunks of leaf nodes whose
// keys are offsets of chunks of this shape are inflated, into nothing, to
// check that none holds more than a chunk: the library inflates a chunk
// whole before copying out its declared part, so a small chunk that
// inflates to gigabytes would take them.
func h5CheckChunkIndex(path string, size int64, chunk []uint64) error {
	rank := len(chunk)
	chunkBytes := int64(1)
	for _, d := range chunk {
		if d == 0 || d > 1<<32 || chunkBytes > 1<<40 {
			return nil // the library refuses such a layout
		}
		chunkBytes *= int64(d)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var sb [16]byte
	if _, err := f.ReadAt(sb[:], 0); err != nil {
		return nil
	}
	offsetSize, _, order, ok := h5Sizes(sb)
	if !ok {
		return nil
	}
	head := 8 + 2*offsetSize
	key := 8 + 8*rank
	var bad error
	node := make([]byte, head)
	err = scanFile(f, size, []byte("TREE\x01"), func(at int64) bool {
		if k, _ := f.ReadAt(node, at); k < head || node[5] > 32 {
			return true
		}
		entries := int(binary.LittleEndian.Uint16(node[6:]))
		if entries == 0 {
			return true
		}
		body := make([]byte, entries*(key+offsetSize))
		if k, _ := f.ReadAt(body, at+int64(head)); k < len(body) {
			return true
		}
		for i := 0; i < entries; i++ {
			child := body[i*(key+offsetSize)+key:]
			if h5Uint(order, child, offsetSize) >= uint64(size) {
				return true // not a node of this rank, or not a node
			}
		}
		for i := 0; i < entries; i++ {
			if n := binary.LittleEndian.Uint32(body[i*(key+offsetSize):]); int64(n) > size {
				bad = fmt.Errorf("%s: malformed HDF5 file: the chunk index at offset %d claims a chunk of %d bytes, more than the file holds", path, at, n)
				return false
			}
		}
		if node[5] == 0 && h5ChunksOfShape(body, entries, key+offsetSize, chunk) {
			for i := 0; i < entries; i++ {
				e := body[i*(key+offsetSize):]
				stored := int64(binary.LittleEndian.Uint32(e))
				addr := int64(h5Uint(order, e[key:], offsetSize))
				if n := h5Inflated(f, addr, stored, chunkBytes); n > chunkBytes {
					bad = fmt.Errorf("%s: malformed HDF5 file: the compressed chunk at offset %d inflates to more than %d bytes, its shape %v holds %d",
						path, addr, n-1, chunk[:len(chunk)-1], chunkBytes)
					return false
				}
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return bad
}

// h5ChunksOfShape reports whether the keys of a leaf node's entries are
// chunk offsets on a grid of this chunk shape (the last, element-size,
// offset 0).
func h5ChunksOfShape(body []byte, entries, stride int, chunk []uint64) bool {
	for i := 0; i < entries; i++ {
		k := body[i*stride+8:]
		for j, d := range chunk {
			off := binary.LittleEndian.Uint64(k[8*j:])
			if (j == len(chunk)-1 && off != 0) || (j < len(chunk)-1 && off%d != 0) {
				return false
			}
		}
	}
	return true
}

// h5Inflated returns how many bytes the zlib stream of stored bytes at addr
// inflates to, reading at most limit+1 of them; 0 when it is not a zlib
// stream (the chunk is stored another way).
func h5Inflated(f *os.File, addr, stored, limit int64) int64 {
	zr, err := zlib.NewReader(io.NewSectionReader(f, addr, stored))
	if err != nil {
		return 0
	}
	defer zr.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(zr, limit+1))
	return n
}

// scanFile calls found with the offset of each occurrence of pat in the
// first size bytes of f, in order, until found returns false.
func scanFile(f *os.File, size int64, pat []byte, found func(at int64) bool) error {
	const block = 1 << 22
	buf := make([]byte, block+len(pat)-1)
	for off := int64(0); off < size; off += block {
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return err
		}
		b := buf[:n]
		for base := 0; ; {
			i := bytes.Index(b[base:], pat)
			if i < 0 || base+i >= block {
				break // matches starting past block are the next block's
			}
			if !found(off + int64(base+i)) {
				return nil
			}
			base += i + 1
		}
	}
	return nil
}

// h5File is an open HDF5 file with its root-level datasets by name.
type h5File struct {
	path  string
	size  int64
	f     *hdf5.File
	sets  map[string]*hdf5.Dataset
	names []string
}

func openH5(path string) (*h5File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, not an HDF5 file", path)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	if err := h5Precheck(path, st.Size()); err != nil {
		return nil, err
	}
	hf := &h5File{path: path, size: st.Size(), sets: map[string]*hdf5.Dataset{}}
	err = h5Guard(path, func() error {
		f, err := hdf5.Open(path)
		if err != nil {
			return fmt.Errorf("%s: not a readable HDF5 file: %v", path, err)
		}
		hf.f = f
		f.Walk(func(p string, o hdf5.Object) {
			if ds, ok := o.(*hdf5.Dataset); ok {
				name := strings.TrimPrefix(p, "/")
				if _, dup := hf.sets[name]; !dup {
					hf.names = append(hf.names, name)
				}
				hf.sets[name] = ds
			}
		})
		return nil
	})
	if err != nil {
		if hf.f != nil {
			hf.f.Close()
		}
		return nil, err
	}
	sort.Strings(hf.names)
	return hf, nil
}

func (hf *h5File) Close() { hf.f.Close() }

// dataset returns the named dataset's handle and description.
func (hf *h5File) dataset(name string) (*hdf5.Dataset, *h5Meta, error) {
	ds := hf.sets[name]
	if ds == nil {
		found := "nothing"
		if len(hf.names) > 0 {
			found = strings.Join(hf.names, ", ")
		}
		return nil, nil, fmt.Errorf("%s: no dataset '%s' (found: %s)", hf.path, name, found)
	}
	var info string
	err := h5Guard(hf.path, func() error {
		var err error
		info, err = ds.Info()
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: dataset '%s': %v", hf.path, name, err)
	}
	meta, err := parseH5Info(info)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: dataset '%s': %v", hf.path, name, err)
	}
	if meta.dims != nil && !meta.plausible(hf.size) {
		return nil, nil, fmt.Errorf("%s: dataset '%s' claims shape %s (%s layout), more than a %d-byte file can hold: the file is truncated or malformed",
			hf.path, name, meta.shape(), meta.layout, hf.size)
	}
	return ds, meta, nil
}

// readErr describes a failed read, naming the unsupported layout case.
func (hf *h5File) readErr(name string, meta *h5Meta, err error) error {
	if m := h5FilterRE.FindStringSubmatch(err.Error()); m != nil {
		id, _ := strconv.Atoi(m[1])
		filter := fmt.Sprintf("filter %d", id)
		if n, ok := h5FilterNames[id]; ok {
			filter = fmt.Sprintf("%s filter (HDF5 filter %d)", n, id)
		}
		return fmt.Errorf("%s: dataset '%s' is compressed with the %s, which the pure-Go HDF5 reader does not support: %w; rewrite it with gzip, e.g. `h5repack -f GZIP=4 %s out.h5` (h5repack needs the filter's plugin)",
			hf.path, name, filter, ErrH5Filter, hf.path)
	}
	if meta.layout == "chunked" && len(meta.chunk) == 0 && hf.f.SuperblockVersion() >= 2 {
		return fmt.Errorf("%s: dataset '%s' is stored chunked in the HDF5 1.10+ format (h5py libver='latest'), which the pure-Go HDF5 reader cannot read (%s): %w; rewrite it contiguous, e.g. `h5repack -l CONTI %s out.h5`, or with h5py's default libver",
			hf.path, name, state.Quote(err.Error()), ErrH5Layout, hf.path)
	}
	return fmt.Errorf("%s: reading dataset '%s': %s", hf.path, name, state.Quote(err.Error()))
}

// ErrH5Filter is wrapped by ReadH5's error for a dataset compressed with a
// filter the pure-Go HDF5 reader lacks (it reads gzip, shuffle,
// fletcher32, lzf and bzip2).
var ErrH5Filter = errors.New("unsupported HDF5 filter")

var h5FilterRE = regexp.MustCompile(`unsupported filter ID: (\d+)`)

// h5FilterNames names the registered HDF5 filters pcx users meet.
var h5FilterNames = map[int]string{
	4: "szip", 5: "nbit", 6: "scale-offset", 307: "bzip2", 32000: "lzf", 32001: "blosc",
	32004: "lz4", 32008: "bitshuffle", 32013: "zfp", 32015: "zstd", 32017: "sz",
}

// h5Batch is how many values ReadH5 asks the library for at once.
const h5Batch = 1 << 20

// h5WholeValues is the most values of chunked data ReadH5 reads whole: the
// library's whole-dataset reader is about 2.5 times faster than its slice
// reader on h5py's chunking, but holds about 3.4 times the result at peak
// (here at most about 450 MB).
var h5WholeValues = 1 << 25

// h5MemoryLimit is the most bytes ReadH5 lets a file's shapes ask for: the
// machine's physical memory.
var h5MemoryLimit = memlimit.Limit

// ReadH5 reads a ScanObjectNN-style HDF5 file: float dataset "data" of shape
// N×P×3 and integer dataset "label" of shape N or N×1. It returns each
// sample's flat xyz (float64 data is converted) and its label. It checks
// shapes, types, that the counts agree, that labels are whole and
// non-negative and that coordinates are finite; every error names the file.
//
// Files written by h5py with its defaults (contiguous, or chunked with gzip
// and shuffle) are read. Chunked datasets in HDF5 1.10+ files (h5py's
// libver='latest') are not: the error wraps ErrH5Layout and says how to
// rewrite the file. Shapes are checked against the file size, and the
// memory they ask for against the machine's physical memory, before the
// library reads; the library's panics become errors, and a compressed
// chunk that inflates beyond its declared shape is refused before the
// library inflates it. Chunked data of up to 32M values is read whole (at
// most about 450 MB at peak); beyond that, and for contiguous data, in
// batches of about a million values (whole rows of chunks), so reading
// takes about the result's size (4 bytes a coordinate) plus one batch.
func ReadH5(path string) (points [][]float32, labels []int, err error) {
	hf, err := openH5(path)
	if err != nil {
		return nil, nil, err
	}
	defer hf.Close()

	ds, meta, err := hf.dataset("data")
	if err != nil {
		return nil, nil, err
	}
	if meta.class != "float" || (meta.size != 4 && meta.size != 8) {
		return nil, nil, fmt.Errorf("%s: dataset 'data' holds %s values, want float32 or float64", path, meta.dtype())
	}
	if len(meta.dims) != 3 || meta.dims[2] != 3 || meta.dims[1] == 0 {
		return nil, nil, fmt.Errorf("%s: dataset 'data' has shape %s, want (samples, points, 3)", path, meta.shape())
	}
	n, p := int(meta.dims[0]), int(meta.dims[1])
	need := memlimit.Sum(memlimit.Bytes(int64(n), int64(p), 3, 4), memlimit.Bytes(int64(n), 8))
	if lim := h5MemoryLimit(); need > lim {
		return nil, nil, fmt.Errorf("%s: dataset 'data' of shape %s would take %s (%d bytes) as float32, more than the %s this machine has",
			path, meta.shape(), memlimit.Human(need), need, memlimit.Human(lim))
	}

	lds, lmeta, err := hf.dataset("label")
	if err != nil {
		return nil, nil, err
	}
	if lmeta.class != "integer" && lmeta.class != "float" {
		return nil, nil, fmt.Errorf("%s: dataset 'label' holds %s values, want integers", path, lmeta.dtype())
	}
	if !(len(lmeta.dims) == 1 || (len(lmeta.dims) == 2 && lmeta.dims[1] == 1)) {
		return nil, nil, fmt.Errorf("%s: dataset 'label' has shape %s, want (samples,) or (samples, 1)", path, lmeta.shape())
	}
	if lmeta.dims[0] != meta.dims[0] {
		return nil, nil, fmt.Errorf("%s: %d labels for %d samples", path, lmeta.dims[0], n)
	}

	var raw []float64
	if err := h5Guard(path, func() error {
		var err error
		raw, err = lds.Read()
		return err
	}); err != nil {
		return nil, nil, hf.readErr("label", lmeta, err)
	}
	if len(raw) != n {
		return nil, nil, fmt.Errorf("%s: read %d labels, want %d", path, len(raw), n)
	}
	labels = make([]int, n)
	for i, v := range raw {
		if v != math.Trunc(v) || v < 0 || v > math.MaxInt32 {
			return nil, nil, fmt.Errorf("%s: sample %d has label %v, want a whole number >= 0", path, i, v)
		}
		labels[i] = int(v)
	}

	points = make([][]float32, n)
	per := 3 * p
	// The data is read in batches of samples, so that beside the result
	// only one batch's float64 values are held. For chunked data a batch
	// is whole rows of chunks, so each chunk is inflated once, and chunked
	// data of up to h5WholeValues is read whole; the library allocates a
	// chunk's stored size before reading it and inflates it whole, so the
	// chunk index and the chunks are checked first.
	batch := max(1, h5Batch/per)
	if meta.layout == "chunked" && len(meta.chunk) > 0 { // HDF5 1.10+ indexes tell none; readErr refuses them
		if len(meta.chunk) != 4 || meta.chunk[0] == 0 {
			return nil, nil, fmt.Errorf("%s: dataset 'data' has chunk shape %v, want 3 dimensions and the element size", path, meta.chunk)
		}
		if err := h5CheckChunkIndex(path, hf.size, meta.chunk); err != nil {
			return nil, nil, err
		}
		rows := int(min(meta.chunk[0], uint64(n)))
		batch = max(rows, batch/rows*rows)
		if n*per <= h5WholeValues {
			batch = n
		}
	}
	for b := 0; b < n; b += batch {
		k := min(batch, n-b)
		var vals []float64
		err := h5Guard(path, func() error {
			var v interface{}
			var err error
			if k == n {
				v, err = ds.Read()
			} else {
				v, err = ds.ReadSlice([]uint64{uint64(b), 0, 0}, []uint64{uint64(k), uint64(p), 3})
			}
			if err != nil {
				return err
			}
			f, ok := v.([]float64)
			if !ok {
				return fmt.Errorf("unexpected value type %T", v)
			}
			vals = f
			return nil
		})
		if err != nil {
			return nil, nil, hf.readErr("data", meta, err)
		}
		if len(vals) != k*per {
			return nil, nil, fmt.Errorf("%s: read %d values of samples %d-%d, want %d", path, len(vals), b, b+k-1, k*per)
		}
		for j := 0; j < k; j++ {
			s := make([]float32, per)
			for i := range s {
				s[i] = float32(vals[j*per+i])
			}
			if bad := nonFinite(s); bad != "" {
				return nil, nil, fmt.Errorf("%s: sample %d has %s coordinates", path, b+j, bad)
			}
			points[b+j] = s
		}
	}
	return points, labels, nil
}

// ScanObjectNN variant names, as accepted by LoadScanObjectNN.
const (
	ScanObjectNNObjBG   = "objbg"   // objects with background
	ScanObjectNNObjOnly = "objonly" // objects only
	ScanObjectNNHardest = "hardest" // PB_T50_RS: perturbed, rotated, scaled
)

var scanObjectNNClasses = []string{
	"bag", "bin", "box", "cabinet", "chair", "desk", "display", "door",
	"shelf", "table", "bed", "pillow", "sink", "sofa", "toilet",
}

// ScanObjectNNClasses returns the 15 ScanObjectNN class names in label order.
func ScanObjectNNClasses() []string { return append([]string{}, scanObjectNNClasses...) }

// ScanObjectNNVariants returns the variant names LoadScanObjectNN accepts.
func ScanObjectNNVariants() []string {
	return []string{ScanObjectNNObjBG, ScanObjectNNObjOnly, ScanObjectNNHardest}
}

// canonicalVariant maps the spellings in papers and configs (OBJ_BG,
// obj_only, PB_T50_RS, ...) onto the variant names.
func canonicalVariant(v string) (string, bool) {
	s := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(v))
	switch s {
	case "objbg":
		return ScanObjectNNObjBG, true
	case "objonly", "nobg":
		return ScanObjectNNObjOnly, true
	case "hardest", "pbt50rs":
		return ScanObjectNNHardest, true
	}
	return "", false
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// LoadScanObjectNN loads one ScanObjectNN variant: "objbg", "objonly" or
// "hardest" (PB_T50_RS; the spellings OBJ_BG, OBJ_ONLY and PB_T50_RS work
// too). An empty variant means "hardest", unless root only has objonly
// files (a main_split_nobg folder) or only objbg-named files (as Export
// writes), in which case it means that variant. root is the folder holding main_split/ and
// main_split_nobg/, or one of those two folders, or any folder holding the
// variant's training and test files; see the package documentation.
func LoadScanObjectNN(root, variant string) (*Dataset, error) {
	base := filepath.Base(root)
	if variant == "" {
		variant = ScanObjectNNHardest
		switch {
		case base == "main_split_nobg",
			isDir(filepath.Join(root, "main_split_nobg")) && !isDir(filepath.Join(root, "main_split")):
			variant = ScanObjectNNObjOnly
		case !isDir(filepath.Join(root, "main_split")) &&
			!isFile(filepath.Join(root, "training_objectdataset_augmentedrot_scale75.h5")) &&
			isFile(filepath.Join(root, "training_objectdataset.h5")):
			variant = ScanObjectNNObjBG
		}
	}
	v, ok := canonicalVariant(variant)
	if !ok {
		return nil, fmt.Errorf("unknown ScanObjectNN variant %q (want %s)", variant, strings.Join(ScanObjectNNVariants(), ", "))
	}
	sub, stem := "main_split", "objectdataset_augmentedrot_scale75"
	switch v {
	case ScanObjectNNObjBG:
		stem = "objectdataset"
	case ScanObjectNNObjOnly:
		sub, stem = "main_split_nobg", "objectdataset"
	}
	dir := root
	switch {
	case isDir(filepath.Join(root, sub)):
		dir = filepath.Join(root, sub)
	case base == "main_split" || base == "main_split_nobg":
		if base != sub {
			return nil, fmt.Errorf("%s: variant %s lives in %s/, not %s/", root, v, sub, base)
		}
	}
	trainPath := filepath.Join(dir, "training_"+stem+".h5")
	testPath := filepath.Join(dir, "test_"+stem+".h5")
	if !isFile(trainPath) {
		if !isDir(root) {
			return nil, fmt.Errorf("%s: no such folder", root)
		}
		return nil, fmt.Errorf("%s: no ScanObjectNN %s files (looked for %s)", root, v, trainPath)
	}
	if !isFile(testPath) {
		return nil, fmt.Errorf("%s: no ScanObjectNN %s test file (looked for %s)", root, v, testPath)
	}
	classes := scanObjectNNClasses
	name := "scanobjectnn-" + v
	if names := filepath.Join(dir, "shape_names.txt"); isFile(names) {
		data, err := os.ReadFile(names)
		if err != nil {
			return nil, err
		}
		if classes, err = parseShapeNames(names, data); err != nil {
			return nil, err
		}
		name = filepath.Base(dir)
	}

	var splits [2]*Split
	paths := [2]string{trainPath, testPath}
	err := forEach(2, 2, func(i int) error {
		pts, labels, err := ReadH5(paths[i])
		if err != nil {
			return err
		}
		for j, l := range labels {
			if l >= len(classes) {
				return fmt.Errorf("%s: sample %d has label %d, outside the %d classes [0,%d)", paths[i], j, l, len(classes), len(classes))
			}
		}
		splits[i] = &Split{Points: pts, Labels: labels}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Dataset{Name: name, Classes: append([]string{}, classes...), Train: splits[0], Test: splits[1]}, nil
}
