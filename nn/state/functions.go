package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/nlpodyssey/gopickle/types"
)

// The allowed global functions. Each does O(1) work, or work charged to the
// loader's budget, and returns pointers or numbers, never a string or bytes
// (see vetPickle).

// maxDims is the largest tensor rank accepted.
const maxDims = 64

// rebuildTensor is torch._utils._rebuild_tensor_v2(storage, storage_offset,
// size, stride, requires_grad, backward_hooks[, metadata]).
func (l *loader) rebuildTensor(args []any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("needs at least 4 arguments, got %d", len(args))
	}
	ref, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("storage argument is %s", typeName(args[0]))
	}
	offset, ok := args[1].(int)
	if !ok || offset < 0 {
		return nil, errors.New("storage offset is not a non-negative int")
	}
	shape, err := intTuple(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in length", shape, stride)
	}
	return &pendingTensor{ref: ref, offset: offset, shape: shape, stride: stride}, nil
}

// intTuple reads a tuple of at most maxDims non-negative ints.
func intTuple(v any, what string) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%s is %s, not a tuple", what, typeName(v))
	}
	if t.Len() > maxDims {
		return nil, fmt.Errorf("%s has %d dimensions, more than %d", what, t.Len(), maxDims)
	}
	out := make([]int, t.Len())
	for i, x := range *t {
		n, ok := x.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("%s has an entry that is not a non-negative int", what)
		}
		out[i] = n
	}
	return out, nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad,
// backward_hooks): the parameter's tensor.
func rebuildParameter(args []any) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("no arguments")
	}
	t, ok := args[0].(*pendingTensor)
	if !ok {
		return nil, fmt.Errorf("data is %s, not a tensor", typeName(args[0]))
	}
	return t, nil
}

// torchSize is torch.Size(tuple): the tuple itself.
func torchSize(args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("needs 1 argument, got %d", len(args))
	}
	t, ok := args[0].(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("argument is %s, not a tuple", typeName(args[0]))
	}
	return t, nil
}

// numpyDTypeValue is a numpy.dtype made by numpy.dtype(code, align, copy)
// and completed by BUILD with its state tuple (version, byte order, ...).
type numpyDTypeValue struct {
	kind  byte // 'f', 'i', 'u' or 'b'
	size  int
	order byte // '<', '>', '|' or '='
}

// numpySizes lists the supported numpy scalar kinds and their sizes.
var numpySizes = map[byte][]int{'f': {2, 4, 8}, 'i': {1, 2, 4, 8}, 'u': {1, 2, 4, 8}, 'b': {1}}

// numpyDType is numpy.dtype(code, align, copy) for codes like "f8", "i4",
// "u1", "b1".
func numpyDType(args []any) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("no arguments")
	}
	code, ok := args[0].(string)
	if !ok || len(code) < 2 {
		return nil, errors.New("type code is not a string like \"f8\"")
	}
	size, err := strconv.Atoi(code[1:])
	d := &numpyDTypeValue{kind: code[0], size: size, order: '='}
	if err != nil || !slices.Contains(numpySizes[d.kind], size) {
		return nil, fmt.Errorf("unsupported numpy type %q (only bool, int, uint and float scalars)", code)
	}
	return d, nil
}

// PySetState implements gopickle's types.PyStateSettable: BUILD passes the
// dtype's state, whose second item is the byte order.
func (d *numpyDTypeValue) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() < 2 {
		return errors.New("numpy.dtype: malformed state")
	}
	o, _ := t.Get(1).(string)
	if o != "<" && o != ">" && o != "|" && o != "=" {
		return errors.New("numpy.dtype: malformed byte order in state")
	}
	d.order = o[0]
	return nil
}

// numpyScalar is numpy.core.multiarray.scalar(dtype, bytes): a numpy number
// stored as its raw bytes. It returns float64, int or bool.
func numpyScalar(args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("needs 2 arguments, got %d", len(args))
	}
	d, ok := args[0].(*numpyDTypeValue)
	if !ok {
		return nil, fmt.Errorf("dtype is %s", typeName(args[0]))
	}
	var raw []byte
	switch b := args[1].(type) {
	case *pyBytes:
		raw = b.b
	case []byte:
		raw = b
	default:
		return nil, fmt.Errorf("data is %s, not bytes", typeName(args[1]))
	}
	if len(raw) != d.size {
		return nil, fmt.Errorf("%c%d scalar given %d bytes", d.kind, d.size, len(raw))
	}
	var be binary.ByteOrder = binary.LittleEndian
	if d.order == '>' {
		be = binary.BigEndian
	}
	var u uint64
	switch d.size {
	case 1:
		u = uint64(raw[0])
	case 2:
		u = uint64(be.Uint16(raw))
	case 4:
		u = uint64(be.Uint32(raw))
	default:
		u = be.Uint64(raw)
	}
	switch d.kind {
	case 'b':
		return u != 0, nil
	case 'u':
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("uint64 scalar %d does not fit an int", u)
		}
		return int(u), nil
	case 'i':
		shift := 64 - 8*d.size
		return int(int64(u<<shift) >> shift), nil
	}
	switch d.size {
	case 2:
		return float64(f16ToF32(uint16(u))), nil
	case 4:
		return float64(math.Float32frombits(uint32(u))), nil
	}
	return math.Float64frombits(u), nil
}

// encodeLatin1 is _codecs.encode(str, "latin1"), which pickle protocols below
// 3 use for bytes values.
func (l *loader) encodeLatin1(args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("needs 2 arguments, got %d", len(args))
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
		return nil, errors.New(`only encode(str, "latin1") is supported`)
	}
	if l.work -= int64(len(s)); l.work < 0 {
		return nil, errors.New("pickle encodes more bytes than the file could hold")
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, errors.New("string is not latin-1")
		}
		b = append(b, byte(r))
	}
	return &pyBytes{b: b}, nil
}

// emptyBytes is bytes(), which pickle protocols below 3 use for b"".
func emptyBytes(args []any) (any, error) {
	if len(args) != 0 {
		return nil, errors.New("only bytes() without arguments is supported")
	}
	return &pyBytes{b: []byte{}}, nil
}

// Namespace is an argparse.Namespace read from a checkpoint: MAE's
// main_pretrain.py saves its command-line arguments so, under "args". It is
// inert data: reading one runs no Python code, and nothing in pcx acts on
// it. Attrs holds its attributes (the object's __dict__) as read.
type Namespace struct {
	Attrs *OrderedDict
}

// namespaceClass is the global argparse.Namespace. Pickle protocol 2 makes
// a namespace with NEWOBJ (the class, an empty tuple) and fills it with
// BUILD (its __dict__).
type namespaceClass struct{}

// PyNew implements gopickle's types.PyNewable: Namespace.__new__ takes no
// arguments.
func (namespaceClass) PyNew(args ...any) (any, error) {
	if len(args) != 0 {
		return nil, fmt.Errorf("argparse.Namespace: %d arguments to __new__, want none", len(args))
	}
	return &namespaceValue{}, nil
}

// namespaceValue is a namespace being unpickled.
type namespaceValue struct{ state *types.Dict }

// PySetState implements gopickle's types.PyStateSettable: BUILD passes the
// namespace's __dict__, a dict of str keys, once.
func (n *namespaceValue) PySetState(state any) error {
	d, ok := state.(*types.Dict)
	if !ok {
		return fmt.Errorf("argparse.Namespace: state is %s, not a dict", typeName(state))
	}
	if n.state != nil {
		return errors.New("argparse.Namespace: state set twice")
	}
	for _, e := range *d {
		if _, ok := e.Key.(string); !ok {
			return fmt.Errorf("argparse.Namespace: attribute name is %s, not a str", typeName(e.Key))
		}
	}
	n.state = d
	return nil
}
