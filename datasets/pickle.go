package datasets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/pcx-dev/pcx/nn/state"
)

// Point-MAE caches ModelNet40 as pickle.dump([list_of_points,
// list_of_labels], f): numpy arrays, which pickle as calls to numpy
// functions. A pickle is a small program; this file never runs it as one. It
// checks the opcode stream first (every length fits in the file, the stack,
// the memo and the MARKs are bounded, and so is the unpickler's estimated
// allocation, to a few times the file's size), then lets gopickle's stack machine
// build values, answering its class look-ups with inert Go stand-ins for the
// few numpy names that arrays, dtypes and scalars use and refusing all
// others. The check is nn/state's VetPickle, which the .pth reader uses too.

// npDtype is a numpy dtype of a plain number type.
type npDtype struct {
	kind byte // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
	size int
	big  bool // big-endian
}

func (d *npDtype) String() string {
	switch d.kind {
	case 'f':
		return fmt.Sprintf("float%d", 8*d.size)
	case 'i':
		return fmt.Sprintf("int%d", 8*d.size)
	case 'u':
		return fmt.Sprintf("uint%d", 8*d.size)
	}
	return "bool"
}

// parseDtype reads numpy's short type codes: f4, <f8, i8, u1, b1, ?...
func parseDtype(s string) (*npDtype, error) {
	d := &npDtype{}
	if len(s) > 0 && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=') {
		d.big = s[0] == '>'
		s = s[1:]
	}
	if s == "?" {
		s = "b1"
	}
	if len(s) != 2 || s[1] < '1' || s[1] > '8' {
		return nil, fmt.Errorf("unsupported numpy dtype %s", state.Quote(s))
	}
	d.kind, d.size = s[0], int(s[1]-'0')
	ok := false
	switch d.kind {
	case 'f':
		ok = d.size == 4 || d.size == 8
	case 'i', 'u':
		ok = d.size == 1 || d.size == 2 || d.size == 4 || d.size == 8
	case 'b':
		ok = d.size == 1
	}
	if !ok {
		return nil, fmt.Errorf("unsupported numpy dtype %s", state.Quote(s))
	}
	return d, nil
}

// PySetState takes numpy's dtype state (version, byteorder, subarray,
// names, fields, elsize, alignment, flags[, metadata]).
func (d *npDtype) PySetState(st interface{}) error {
	t, ok := st.(*types.Tuple)
	if !ok || t.Len() < 2 {
		return errors.New("malformed numpy dtype state")
	}
	switch o := t.Get(1).(type) {
	case string:
		switch o {
		case ">":
			d.big = true
		case "<", "|", "=":
			d.big = false
		default:
			return fmt.Errorf("unknown numpy byte order %s", state.Quote(o))
		}
	default:
		return errors.New("malformed numpy dtype byte order")
	}
	for i := 2; i <= 4 && i < t.Len(); i++ {
		if t.Get(i) != nil {
			return errors.New("structured or sub-array numpy dtypes are not supported")
		}
	}
	return nil
}

// dtypeClass stands in for numpy.dtype: dtype("f4", align, copy).
type dtypeClass struct{}

func (dtypeClass) Call(args ...interface{}) (interface{}, error) {
	if len(args) < 1 {
		return nil, errors.New("numpy.dtype called without a type")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, errors.New("numpy.dtype called with a non-string type")
	}
	return parseDtype(s)
}

// npArray is a decoded numpy array (a numpy scalar is one of no dimensions).
type npArray struct {
	shape   []int
	dtype   *npDtype
	fortran bool
	data    []byte
}

func (a *npArray) shapeString() string {
	s := "("
	for i, d := range a.shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	if len(a.shape) == 1 {
		s += ","
	}
	return s + ")"
}

// setData checks that data holds exactly the array's elements.
func (a *npArray) setData(data []byte) error {
	if a.dtype == nil {
		return errors.New("numpy array without a dtype")
	}
	n := uint64(1)
	for _, d := range a.shape {
		if d < 0 {
			return errors.New("numpy array with a negative dimension")
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 {
			return errors.New("numpy array shape overflows")
		}
		n = lo
	}
	hi, want := bits.Mul64(n, uint64(a.dtype.size))
	if hi != 0 || want != uint64(len(data)) {
		return fmt.Errorf("numpy array of shape %s and dtype %s holds %d bytes, want %d", a.shapeString(), a.dtype, len(data), want)
	}
	a.data = data
	return nil
}

func (a *npArray) len() int { return len(a.data) / a.dtype.size }

// float returns element i (in storage order) as float64.
func (a *npArray) float(i int) float64 {
	b := a.data[i*a.dtype.size:]
	var order binary.ByteOrder = binary.LittleEndian
	if a.dtype.big {
		order = binary.BigEndian
	}
	switch a.dtype.kind {
	case 'f':
		if a.dtype.size == 4 {
			return float64(math.Float32frombits(order.Uint32(b)))
		}
		return math.Float64frombits(order.Uint64(b))
	case 'b':
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	var u uint64
	switch a.dtype.size {
	case 1:
		u = uint64(b[0])
	case 2:
		u = uint64(order.Uint16(b))
	case 4:
		u = uint64(order.Uint32(b))
	case 8:
		u = order.Uint64(b)
	}
	if a.dtype.kind == 'i' {
		shift := 64 - 8*uint(a.dtype.size)
		return float64(int64(u<<shift) >> shift)
	}
	return float64(u)
}

// columns splits a rows×cols float array (cols 3 or 6) into xyz and, for 6
// columns, normals.
func (a *npArray) columns(cols int) (xyz, nrm []float32) {
	rows := a.shape[0]
	xyz = make([]float32, 3*rows)
	if cols == 6 {
		nrm = make([]float32, 3*rows)
	}
	if a.dtype.size == 4 && !a.dtype.big && !a.fortran {
		// The common case, float32 little-endian in C order.
		d := a.data
		for r := 0; r < rows; r++ {
			row := d[4*cols*r:]
			for c := 0; c < 3; c++ {
				xyz[3*r+c] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*c:]))
			}
			if nrm != nil {
				for c := 0; c < 3; c++ {
					nrm[3*r+c] = math.Float32frombits(binary.LittleEndian.Uint32(row[12+4*c:]))
				}
			}
		}
		return xyz, nrm
	}
	at := func(r, c int) float32 {
		if a.fortran {
			return float32(a.float(c*rows + r))
		}
		return float32(a.float(r*cols + c))
	}
	for r := 0; r < rows; r++ {
		for c := 0; c < 3; c++ {
			xyz[3*r+c] = at(r, c)
			if nrm != nil {
				nrm[3*r+c] = at(r, 3+c)
			}
		}
	}
	return xyz, nrm
}

// PySetState takes ndarray's state: (version, shape, dtype, is_fortran,
// data), or the same without the version.
func (a *npArray) PySetState(st interface{}) error {
	t, ok := st.(*types.Tuple)
	if !ok || (t.Len() != 4 && t.Len() != 5) {
		return errors.New("malformed numpy array state")
	}
	s := []interface{}(*t)
	if len(s) == 5 {
		s = s[1:]
	}
	shape, err := toShape(s[0])
	if err != nil {
		return err
	}
	dt, ok := s[1].(*npDtype)
	if !ok {
		return errors.New("numpy array state without a dtype")
	}
	switch f := s[2].(type) {
	case bool:
		a.fortran = f
	case int:
		a.fortran = f != 0
	default:
		return errors.New("malformed numpy array order flag")
	}
	a.shape, a.dtype = shape, dt
	data, err := toBytes(s[3])
	if err != nil {
		return err
	}
	return a.setData(data)
}

func toShape(v interface{}) ([]int, error) {
	var items []interface{}
	switch t := v.(type) {
	case *types.Tuple:
		items = *t
	case *types.List:
		items = *t
	case int:
		items = []interface{}{t}
	default:
		return nil, errors.New("malformed numpy array shape")
	}
	if len(items) > 32 {
		return nil, errors.New("numpy array of more than 32 dimensions")
	}
	shape := make([]int, len(items))
	for i, it := range items {
		d, ok := it.(int)
		if !ok || d < 0 {
			return nil, errors.New("malformed numpy array shape")
		}
		shape[i] = d
	}
	return shape, nil
}

func toBytes(v interface{}) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case *types.ByteArray:
		return []byte(*b), nil
	case string:
		// Protocol 0 and 1 strings: bytes as they are.
		return []byte(b), nil
	}
	return nil, errors.New("numpy array data is not bytes")
}

// reconstructFunc stands in for numpy.core.multiarray._reconstruct(ndarray,
// (0,), b"b"): an empty array that BUILD then fills.
type reconstructFunc struct{}

// ndarrayClass stands in for numpy.ndarray; it is only ever an argument.
type ndarrayClass struct{}

func (reconstructFunc) Call(args ...interface{}) (interface{}, error) {
	if len(args) != 3 {
		return nil, errors.New("numpy _reconstruct called with the wrong arguments")
	}
	if _, ok := args[0].(ndarrayClass); !ok {
		return nil, errors.New("numpy _reconstruct of something other than numpy.ndarray")
	}
	return &npArray{}, nil
}

// frombufferFunc stands in for numpy.core.numeric._frombuffer(buf, dtype,
// shape, order), which protocol 5 pickles use.
type frombufferFunc struct{}

func (frombufferFunc) Call(args ...interface{}) (interface{}, error) {
	if len(args) != 4 {
		return nil, errors.New("numpy _frombuffer called with the wrong arguments")
	}
	data, err := toBytes(args[0])
	if err != nil {
		return nil, err
	}
	dt, ok := args[1].(*npDtype)
	if !ok {
		return nil, errors.New("numpy _frombuffer without a dtype")
	}
	shape, err := toShape(args[2])
	if err != nil {
		return nil, err
	}
	order, _ := args[3].(string)
	if order != "C" && order != "F" {
		return nil, errors.New("numpy _frombuffer with an unknown order")
	}
	a := &npArray{shape: shape, dtype: dt, fortran: order == "F"}
	return a, a.setData(data)
}

// scalarFunc stands in for numpy.core.multiarray.scalar(dtype, bytes).
type scalarFunc struct{}

func (scalarFunc) Call(args ...interface{}) (interface{}, error) {
	if len(args) != 2 {
		return nil, errors.New("numpy scalar called with the wrong arguments")
	}
	dt, ok := args[0].(*npDtype)
	if !ok {
		return nil, errors.New("numpy scalar without a dtype")
	}
	data, err := toBytes(args[1])
	if err != nil {
		return nil, err
	}
	a := &npArray{shape: []int{}, dtype: dt}
	return a, a.setData(data)
}

// codecsEncode stands in for _codecs.encode(text, "latin1"), which protocol 2
// pickles use to carry bytes.
type codecsEncode struct{}

func (codecsEncode) Call(args ...interface{}) (interface{}, error) {
	if len(args) != 2 {
		return nil, errors.New("_codecs.encode called with the wrong arguments")
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") {
		return nil, errors.New("_codecs.encode other than text to latin1")
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff || r == utf8.RuneError {
			return nil, errors.New("_codecs.encode of text outside latin1")
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// errRefused marks a class look-up the reader refuses.
type errRefused struct{ module, name string }

func (e *errRefused) Error() string {
	return fmt.Sprintf("refusing to load %s.%s: a pickled data file (a ModelNet .dat, a CIFAR batch) may only hold numpy arrays, lists, dicts and numbers (nothing in it is ever run)", e.module, e.name)
}

func findNumpyClass(module, name string) (interface{}, error) {
	switch module + "." + name {
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		return reconstructFunc{}, nil
	case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
		return scalarFunc{}, nil
	case "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer":
		return frombufferFunc{}, nil
	case "numpy.ndarray":
		return ndarrayClass{}, nil
	case "numpy.dtype":
		return dtypeClass{}, nil
	case "_codecs.encode":
		return codecsEncode{}, nil
	}
	return nil, &errRefused{module, name}
}

// datRules are the pre-pass rules for a .dat pickle: numpy's names only,
// and, since the pickle itself holds the point data, an allocation estimate
// of at most a few times the file's size.
func datRules(size int64) state.PickleRules {
	return state.PickleRules{
		Allowed: func(module, name string) bool {
			_, err := findNumpyClass(module, name)
			return err == nil
		},
		Refuse:       func(module, name string) error { return &errRefused{module, name} },
		MaxBytes:     size,
		AllocPerByte: 4,
		AllocSlack:   16 << 20,
	}
}

// unpickle decodes a pickle of size bytes with only numpy's inert
// stand-ins, after state.VetPickle has checked it.
func unpickle(r io.ReaderAt, size int64) (v interface{}, err error) {
	if size == 0 {
		return nil, errors.New("empty file")
	}
	end, err := state.VetPickle(r, 0, size, datRules(size))
	if err != nil {
		var ref *errRefused
		if errors.As(err, &ref) {
			return nil, ref
		}
		return nil, fmt.Errorf("not a pickle, or a malformed one: %v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed pickle (the decoder failed: %s)", state.Quote(fmt.Sprint(r)))
		}
	}()
	u := pickle.NewUnpickler(bufio.NewReaderSize(io.NewSectionReader(r, 0, end), 1<<16))
	u.FindClass = findNumpyClass
	v, err = u.Load()
	if err != nil {
		var ref *errRefused
		if errors.As(err, &ref) {
			return nil, ref
		}
		return nil, fmt.Errorf("malformed pickle: %s", state.Quote(err.Error()))
	}
	return v, nil
}

// Unpickle decodes the pickle in the first size bytes of r with the same
// safeguards as ReadModelNetDat: the opcode stream is vetted first, numpy
// arrays, dtypes and scalars become inert values that NumpyArray reads,
// every other class is refused, and nothing in the pickle is run. Dicts,
// lists and tuples come back as gopickle's types.
func Unpickle(r io.ReaderAt, size int64) (interface{}, error) {
	return unpickle(r, size)
}

// NumpyArray reads a numpy array that Unpickle returned: its element kind
// ('f' float, 'i' signed, 'u' unsigned, 'b' bool), element size in bytes,
// byte order, shape, storage order and raw bytes (which alias the
// array's). ok is false when v is not a numpy array.
func NumpyArray(v interface{}) (kind byte, size int, bigEndian bool, shape []int, fortran bool, data []byte, ok bool) {
	a, isArr := v.(*npArray)
	if !isArr || a.dtype == nil {
		return 0, 0, false, nil, false, nil, false
	}
	return a.dtype.kind, a.dtype.size, a.dtype.big, a.shape, a.fortran, a.data, true
}

func seqItems(v interface{}) ([]interface{}, bool) {
	switch t := v.(type) {
	case *types.List:
		return *t, true
	case *types.Tuple:
		return *t, true
	}
	return nil, false
}

// ReadModelNetDat reads one of Point-MAE's ModelNet cache files
// (modelnet40_{train,test}_8192pts_fps.dat): a pickle of a list or tuple
// [points, labels], where points is a list of float32 (or float64) numpy
// arrays of shape P×6 (xyz, normals) or P×3 and labels a list of integer
// numpy arrays of one element, numpy integer scalars or ints. Pickles of
// protocols 2 to 5 and numpy 1 or 2 are read. The result has Normals when
// the arrays have 6 columns. Errors name the file and the problem; classes
// other than numpy's array machinery are refused and nothing is executed.
func ReadModelNetDat(path string) (*Split, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, not a .dat file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readModelNetDat(path, f, st.Size())
}

// readModelNetDatBytes is ReadModelNetDat on data in memory.
func readModelNetDatBytes(name string, data []byte) (*Split, error) {
	return readModelNetDat(name, bytes.NewReader(data), int64(len(data)))
}

func readModelNetDat(name string, r io.ReaderAt, size int64) (*Split, error) {
	v, err := unpickle(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	top, ok := seqItems(v)
	if !ok || len(top) != 2 {
		return nil, fmt.Errorf("%s: want a pickled pair [points, labels]", name)
	}
	pts, ok1 := seqItems(top[0])
	labs, ok2 := seqItems(top[1])
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: want a pickled pair of lists [points, labels]", name)
	}
	if len(pts) != len(labs) {
		return nil, fmt.Errorf("%s: %d point arrays but %d labels", name, len(pts), len(labs))
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("%s: no samples", name)
	}
	s := &Split{Points: make([][]float32, len(pts)), Labels: make([]int, len(pts))}
	arrays := make([]*npArray, len(pts))
	cols := 0
	for i, p := range pts {
		a, ok := p.(*npArray)
		if !ok || a.dtype == nil {
			return nil, fmt.Errorf("%s: sample %d is not a numpy array", name, i)
		}
		if a.dtype.kind != 'f' || len(a.shape) != 2 || (a.shape[1] != 3 && a.shape[1] != 6) || a.shape[0] == 0 {
			return nil, fmt.Errorf("%s: sample %d is a %s array of shape %s, want float32 of shape (points, 6) or (points, 3)", name, i, a.dtype, a.shapeString())
		}
		if i == 0 {
			cols = a.shape[1]
			if cols == 6 {
				s.Normals = make([][]float32, len(pts))
			}
		} else if a.shape[1] != cols {
			return nil, fmt.Errorf("%s: sample %d has %d columns, sample 0 has %d", name, i, a.shape[1], cols)
		}
		arrays[i] = a
	}
	err = forEach(len(arrays), 0, func(i int) error {
		a := arrays[i]
		xyz, nrm := a.columns(cols)
		if bad := nonFinite(xyz); bad != "" {
			return fmt.Errorf("%s: sample %d has %s coordinates", name, i, bad)
		}
		if bad := nonFinite(nrm); bad != "" {
			return fmt.Errorf("%s: sample %d has %s normals", name, i, bad)
		}
		s.Points[i] = xyz
		if nrm != nil {
			s.Normals[i] = nrm
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, l := range labs {
		v, err := labelValue(l)
		if err != nil {
			return nil, fmt.Errorf("%s: label %d: %v", name, i, err)
		}
		s.Labels[i] = v
	}
	return s, nil
}

// labelValue reads one label: an int, or a numpy integer array or scalar of
// exactly one element.
func labelValue(v interface{}) (int, error) {
	switch t := v.(type) {
	case int:
		if t < 0 || t > math.MaxInt32 {
			return 0, fmt.Errorf("value %d out of range", t)
		}
		return t, nil
	case *npArray:
		if t.dtype == nil || t.dtype.kind == 'f' {
			return 0, errors.New("want an integer, got a float array")
		}
		if t.len() != 1 {
			return 0, fmt.Errorf("want one integer, got an array of shape %s", t.shapeString())
		}
		f := t.float(0)
		if f < 0 || f > math.MaxInt32 {
			return 0, fmt.Errorf("value %v out of range", f)
		}
		return int(f), nil
	}
	return 0, errors.New("want an integer or a numpy integer array of one element")
}
