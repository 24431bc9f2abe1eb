package state

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"path"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// ErrForbiddenGlobal is wrapped by the error for a checkpoint whose pickle
// names a global (a Python class or function) that is not on the allow-list.
var ErrForbiddenGlobal = errors.New("pickle names a forbidden global")

// storageTypes maps torch's storage classes to the element types.
var storageTypes = map[string]DType{
	"FloatStorage": F32, "HalfStorage": F16, "BFloat16Storage": BF16, "DoubleStorage": F64,
	"LongStorage": I64, "IntStorage": I32, "ShortStorage": I16, "CharStorage": I8,
	"ByteStorage": U8, "BoolStorage": Bool,
}

// otherGlobals are the allowed globals besides torch.*Storage.
var otherGlobals = map[string]bool{
	"torch._utils._rebuild_tensor_v2": true,
	"torch._utils._rebuild_parameter": true,
	"torch.Size":                      true,
	"collections.OrderedDict":         true,
	"numpy.core.multiarray.scalar":    true,
	"numpy._core.multiarray.scalar":   true,
	"numpy.dtype":                     true,
	"_codecs.encode":                  true,
	"builtins.bytes":                  true,
	"__builtin__.bytes":               true,
	"argparse.Namespace":              true,
}

// allowedGlobal reports whether a pickle may name module.name.
func allowedGlobal(module, name string) bool {
	if module == "torch" {
		if _, ok := storageTypes[name]; ok {
			return true
		}
	}
	return otherGlobals[module+"."+name]
}

func forbidden(module, name string) error {
	return fmt.Errorf("%w %s.%s (only tensors, storages, containers, numpy scalars and argparse namespaces may be loaded)",
		ErrForbiddenGlobal, module, name)
}

// legacyMagic is the number that starts a legacy-format checkpoint.
const legacyMagic = "1950a86a20f9469cfc6c"

// ReadPTH reads a PyTorch checkpoint written by torch.save, in the zip
// format (torch >= 1.6) or the legacy one, and returns the saved object as a
// tree of Go values; see DecodePTH. Errors name the file.
func ReadPTH(path string) (any, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	obj, err := DecodePTH(f, size)
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	return obj, nil
}

// DecodePTH reads a PyTorch checkpoint of the given size from r and returns
// the saved object. Python values become:
//
//	dict, collections.OrderedDict  *OrderedDict (insertion order)
//	list, tuple, torch.Size        []any
//	tensor, nn.Parameter           *Tensor
//	int                            int, or *big.Int beyond 64 bits
//	float                          float64
//	str                            string
//	bytes, bytearray               []byte
//	bool, None                     bool, nil
//	numpy scalar                   float64, int or bool
//	argparse.Namespace             *Namespace
//
// A tensor referenced twice in the pickle is one *Tensor. Device locations
// ("cuda:0") are ignored, and so are requires_grad, backward hooks and the
// attributes of an OrderedDict (a state dict's _metadata). Sets, bare
// storages and everything that needs another Python class are errors; see
// the package documentation for the safety rules.
func DecodePTH(r io.ReaderAt, size int64) (any, error) {
	l := &loader{
		r:        r,
		size:     size,
		storages: map[string]*storage{},
		work:     2*size + 1<<20,
		elements: 4*size + 1<<16,
	}
	var head [4]byte
	if n, _ := r.ReadAt(head[:], 0); n == 4 && string(head[:]) == "PK\x03\x04" {
		return l.decodeZip()
	}
	var ustar [5]byte
	if n, _ := r.ReadAt(ustar[:], 257); n == 5 && string(ustar[:]) == "ustar" {
		return nil, errors.New("tar-format checkpoints (torch < 0.4) are not supported")
	}
	return l.decodeLegacy()
}

// loader holds the state of one DecodePTH call.
type loader struct {
	r        io.ReaderAt
	size     int64
	storages map[string]*storage // by key
	zipData  map[string]*zip.File
	order    []*storage // storages in order of first use
	work     int64      // left for work in allowed functions (bytes encoded)
	elements int64      // left for tensor elements
}

// storage is a torch storage: a flat array of one element type.
type storage struct {
	key    string
	dtype  DType
	numel  int
	data   []byte // numel * dtype.Size() bytes
	loaded bool
}

// storageRef is what a persistent id resolves to: a storage, or for very old
// legacy files a view of numel elements starting at base.
type storageRef struct {
	st          *storage
	base, numel int
}

// storageClass is a torch.*Storage global.
type storageClass struct{ dtype DType }

// pyBytes is a bytes value made by an allowed function; a pointer, so that
// gopickle's error messages print it as an address.
type pyBytes struct{ b []byte }

// pendingTensor is a tensor whose data is decoded once all storages are read.
type pendingTensor struct {
	ref           *storageRef
	offset        int
	shape, stride []int
}

// function is an allowed global function or class, callable by REDUCE.
type function struct {
	name string
	call func(args []any) (any, error)
}

// Call implements gopickle's types.Callable.
func (f *function) Call(args ...any) (any, error) {
	v, err := f.call(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	return v, nil
}

// findClass resolves the globals that vetPickle allowed.
func (l *loader) findClass(module, name string) (any, error) {
	full := module + "." + name
	if !allowedGlobal(module, name) {
		return nil, forbidden(module, name)
	}
	fn := func(call func([]any) (any, error)) (any, error) { return &function{name: full, call: call}, nil }
	switch full {
	case "torch._utils._rebuild_tensor_v2":
		return fn(l.rebuildTensor)
	case "torch._utils._rebuild_parameter":
		return fn(rebuildParameter)
	case "torch.Size":
		return fn(torchSize)
	case "collections.OrderedDict":
		return &types.OrderedDictClass{}, nil
	case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
		return fn(numpyScalar)
	case "numpy.dtype":
		return fn(numpyDType)
	case "_codecs.encode":
		return fn(l.encodeLatin1)
	case "builtins.bytes", "__builtin__.bytes":
		return fn(emptyBytes)
	case "argparse.Namespace":
		return namespaceClass{}, nil
	}
	return &storageClass{dtype: storageTypes[name]}, nil
}

// unpickle vets the pickle at off (within limit bytes) and runs gopickle on
// it; it returns the object and the offset after the pickle.
func (l *loader) unpickle(r io.ReaderAt, off, limit int64, persistent func(any) (any, error)) (obj any, end int64, err error) {
	end, err = vetPickle(r, off, limit)
	if err != nil {
		return nil, 0, err
	}
	u := pickle.NewUnpickler(bufio.NewReader(io.NewSectionReader(r, off, end-off)))
	u.FindClass = l.findClass
	u.PersistentLoad = persistent
	defer func() {
		if p := recover(); p != nil { // vetPickle should leave none; keep the promise anyway
			obj, err = nil, fmt.Errorf("malformed pickle: %s", Quote(fmt.Sprint(p)))
		}
	}()
	obj, err = u.Load()
	return obj, end, clipErr(err)
}

// decodeZip reads the zip format: <dir>/data.pkl holds the object pickle,
// <dir>/data/<key> the raw storages.
func (l *loader) decodeZip() (any, error) {
	zr, err := zip.NewReader(l.r, l.size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are looked up, never extracted
		return nil, fmt.Errorf("zip archive is truncated or damaged: %w", err)
	}
	var pkl *zip.File
	for _, f := range zr.File {
		if dir, base := path.Split(f.Name); base == "data.pkl" && strings.Count(dir, "/") == 1 && dir != "/" {
			if pkl != nil {
				return nil, fmt.Errorf("zip holds both %s and %s", pkl.Name, f.Name)
			}
			pkl = f
		}
	}
	if pkl == nil {
		return nil, errors.New("zip archive has no <dir>/data.pkl: not a torch.save checkpoint")
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	l.zipData = map[string]*zip.File{}
	for _, f := range zr.File {
		switch name := strings.TrimPrefix(f.Name, prefix); {
		case name == f.Name:
		case name == "constants.pkl":
			return nil, errors.New("a TorchScript archive, not a torch.save checkpoint: save its state_dict() instead")
		case name == "byteorder":
			b, err := readRecord(f, 16)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			if string(b) != "little" {
				return nil, fmt.Errorf("%s: byte order %s is not supported", Quote(f.Name), Quote(string(b)))
			}
		case strings.HasPrefix(name, "data/"):
			key := name[len("data/"):]
			if l.zipData[key] != nil {
				return nil, fmt.Errorf("zip holds %s twice", f.Name)
			}
			l.zipData[key] = f
		}
	}
	data, err := readRecord(pkl, checkpointRules.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl.Name, err)
	}
	obj, end, err := l.unpickle(bytes.NewReader(data), 0, int64(len(data)), l.persistentZip)
	if err == nil && end != int64(len(data)) {
		err = fmt.Errorf("%d bytes after the pickle's STOP", int64(len(data))-end)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl.Name, err)
	}
	if obj, err = l.convert(obj); err != nil {
		return nil, fmt.Errorf("%s: %w", pkl.Name, err)
	}
	return obj, nil
}

// readRecord reads a whole zip record of at most max bytes. A compressed
// record may not claim more than DEFLATE's largest expansion of its
// compressed size, so the buffer stays proportional to the input.
func readRecord(f *zip.File, max int64) ([]byte, error) {
	n := f.UncompressedSize64
	if n > uint64(max) {
		return nil, fmt.Errorf("record of %d bytes exceeds the limit of %d", n, max)
	}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != n {
			return nil, fmt.Errorf("stored record has sizes %d and %d", f.CompressedSize64, n)
		}
	case zip.Deflate:
		if n > 1032*f.CompressedSize64+1024 {
			return nil, fmt.Errorf("compressed record claims %d bytes from %d", n, f.CompressedSize64)
		}
	default:
		return nil, fmt.Errorf("unsupported compression method %d", f.Method)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %d bytes: %w", n, err)
	}
	// Reading on to the end makes archive/zip verify the checksum.
	if k, err := rc.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("record is longer than its header says")
		}
		return nil, err
	}
	return buf, nil
}

// persistentID parses torch's persistent id ("storage", storage class, key,
// location, element count[, view metadata]).
func persistentID(pid any, n int) (*types.Tuple, *storageClass, string, int, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() < n {
		return nil, nil, "", 0, fmt.Errorf("persistent id %T is not a storage tuple", pid)
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, nil, "", 0, errors.New("persistent id is not a storage")
	}
	cls, ok1 := t.Get(1).(*storageClass)
	key, ok2 := t.Get(2).(string)
	numel, ok3 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, nil, "", 0, errors.New("malformed storage persistent id")
	}
	return t, cls, key, numel, nil
}

// storageFor returns the storage named key, creating it if new; a second
// reference must agree on type and size.
func (l *loader) storageFor(cls *storageClass, key string, numel int) (*storage, bool, error) {
	if st := l.storages[key]; st != nil {
		if st.dtype != cls.dtype || st.numel != numel {
			return nil, false, fmt.Errorf("storage %s is used as %d %v and as %d %v", Quote(key), st.numel, st.dtype, numel, cls.dtype)
		}
		return st, false, nil
	}
	if numel > math.MaxInt64/8 {
		return nil, false, fmt.Errorf("storage %s: %d elements is too many", Quote(key), numel)
	}
	st := &storage{key: key, dtype: cls.dtype, numel: numel}
	l.storages[key] = st
	l.order = append(l.order, st)
	return st, true, nil
}

// persistentZip resolves a storage of the zip format, reading its record.
func (l *loader) persistentZip(pid any) (any, error) {
	_, cls, key, numel, err := persistentID(pid, 5)
	if err != nil {
		return nil, err
	}
	st, isNew, err := l.storageFor(cls, key, numel)
	if err != nil {
		return nil, err
	}
	if isNew {
		f := l.zipData[key]
		if f == nil {
			return nil, fmt.Errorf("storage %s: the archive has no record of it under data/", Quote(key))
		}
		want := int64(numel) * int64(st.dtype.Size())
		if f.UncompressedSize64 != uint64(want) {
			return nil, fmt.Errorf("storage %s of %d %v needs %d bytes but %s has %d",
				Quote(key), numel, st.dtype, want, Quote(f.Name), f.UncompressedSize64)
		}
		if st.data, err = readRecord(f, want); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		st.loaded = true
	}
	return &storageRef{st: st, numel: numel}, nil
}

// persistentLegacy resolves a storage of the legacy format, whose data
// follows the pickles; old files may refer to a view (key, offset, count).
func (l *loader) persistentLegacy(pid any) (any, error) {
	t, cls, key, numel, err := persistentID(pid, 6)
	if err != nil {
		return nil, err
	}
	st, _, err := l.storageFor(cls, key, numel)
	if err != nil {
		return nil, err
	}
	ref := &storageRef{st: st, numel: numel}
	if view := t.Get(5); view != nil {
		vt, ok := view.(*types.Tuple)
		if !ok || vt.Len() != 3 {
			return nil, fmt.Errorf("storage %s: malformed view %T", Quote(key), view)
		}
		off, ok1 := vt.Get(1).(int)
		n, ok2 := vt.Get(2).(int)
		if !ok1 || !ok2 || off < 0 || n < 0 || off > numel || n > numel-off {
			return nil, fmt.Errorf("storage %s: view outside its %d elements", Quote(key), numel)
		}
		ref.base, ref.numel = off, n
	}
	return ref, nil
}

// decodeLegacy reads the legacy format: pickles of the magic number, the
// protocol version, sys_info, the object and the storage keys, then each
// storage as an int64 element count and the elements.
func (l *loader) decodeLegacy() (any, error) {
	var off int64
	next := func(what string, persistent func(any) (any, error)) (any, error) {
		obj, end, err := l.unpickle(l.r, off, l.size-off, persistent)
		if err != nil {
			return nil, fmt.Errorf("%s pickle at byte %d: %w", what, off, err)
		}
		off = end
		return obj, nil
	}
	magic, err := next("magic number", nil)
	if n, ok := magic.(*big.Int); err != nil || !ok || n.Text(16) != legacyMagic {
		if err == nil {
			err = errors.New("does not start with PyTorch's magic number")
		}
		return nil, fmt.Errorf("not a PyTorch checkpoint (neither a zip archive nor a legacy file): %w", err)
	}
	version, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if version != 1001 {
		return nil, fmt.Errorf("unsupported legacy protocol version %v", version)
	}
	info, err := next("sys_info", nil)
	if err != nil {
		return nil, err
	}
	if d, ok := info.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, errors.New("big-endian checkpoints are not supported")
		}
	}
	obj, err := next("object", l.persistentLegacy)
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage keys are a %T, not a list", keysObj)
	}
	for _, k := range *keys {
		key, _ := k.(string)
		st := l.storages[key]
		if st == nil {
			return nil, fmt.Errorf("storage %s is listed but the pickle does not use it", Quote(key))
		}
		if st.loaded {
			return nil, fmt.Errorf("storage %s is listed twice", Quote(key))
		}
		var head [8]byte
		if _, err := l.r.ReadAt(head[:], off); err != nil {
			return nil, fmt.Errorf("storage %s at byte %d: file is truncated: %w", Quote(key), off, err)
		}
		count := binary.LittleEndian.Uint64(head[:])
		if count != uint64(st.numel) {
			return nil, fmt.Errorf("storage %s at byte %d has %d elements, the pickle says %d", Quote(key), off, count, st.numel)
		}
		need := int64(st.numel) * int64(st.dtype.Size())
		if left := l.size - off - 8; need > left {
			return nil, fmt.Errorf("storage %s at byte %d needs %d bytes but the file has %d left: file is truncated", Quote(key), off, need, left)
		}
		st.data = make([]byte, need)
		if _, err := l.r.ReadAt(st.data, off+8); err != nil {
			return nil, fmt.Errorf("storage %s: %w", Quote(key), err)
		}
		st.loaded = true
		off += 8 + need
	}
	for _, st := range l.order {
		if !st.loaded {
			return nil, fmt.Errorf("storage %s is used but missing from the file", Quote(st.key))
		}
	}
	return l.convert(obj)
}
