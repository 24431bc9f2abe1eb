package state

import (
	"fmt"
	"iter"
	"math"
	"math/big"
	"reflect"

	"github.com/nlpodyssey/gopickle/types"
)

// OrderedDict is a Python dict or collections.OrderedDict read from a
// checkpoint, in insertion order. Keys are the Go values of DecodePTH:
// usually string or int.
type OrderedDict struct {
	keys, values []any
	index        map[any]int // position of each hashable key
}

// Len returns the number of entries.
func (d *OrderedDict) Len() int { return len(d.keys) }

// Keys returns the keys in order.
func (d *OrderedDict) Keys() []any { return append([]any(nil), d.keys...) }

// Get returns the value stored under key.
func (d *OrderedDict) Get(key any) (any, bool) {
	if hashable(key) {
		i, ok := d.index[key]
		if !ok {
			return nil, false
		}
		return d.values[i], true
	}
	for i, k := range d.keys {
		if reflect.DeepEqual(k, key) {
			return d.values[i], true
		}
	}
	return nil, false
}

// All iterates over the entries in order.
func (d *OrderedDict) All() iter.Seq2[any, any] {
	return func(yield func(any, any) bool) {
		for i, k := range d.keys {
			if !yield(k, d.values[i]) {
				return
			}
		}
	}
}

// set stores value under key; as in Python, a repeated key keeps its first
// position and takes the last value.
func (d *OrderedDict) set(key, value any) {
	if hashable(key) {
		if d.index == nil {
			d.index = map[any]int{}
		}
		if i, ok := d.index[key]; ok {
			d.values[i] = value
			return
		}
		d.index[key] = len(d.keys)
	}
	d.keys = append(d.keys, key)
	d.values = append(d.values, value)
}

// hashable reports whether key can be looked up by equality.
func hashable(key any) bool {
	switch key.(type) {
	case nil, string, int, float64, bool:
		return true
	}
	return false
}

// maxNesting bounds the depth of the decoded object tree.
const maxNesting = 256

// convert turns gopickle's result into DecodePTH's values, decoding each
// tensor. Shared objects are converted once and stay shared; a structure
// that contains itself is an error.
func (l *loader) convert(v any) (any, error) {
	c := &converter{l: l, done: map[any]any{}, active: map[any]bool{}}
	return c.value(v)
}

type converter struct {
	l      *loader
	done   map[any]any  // converted containers and tensors, by pointer
	active map[any]bool // containers being converted
	depth  int
}

func (c *converter) value(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int, float64, string, []byte:
		return x, nil
	case *big.Int:
		return new(big.Int).Set(x), nil
	case *pyBytes:
		return x.b, nil
	case *types.ByteArray:
		return []byte(*x), nil
	case *pendingTensor, *types.List, *types.Tuple, *types.Dict, *types.OrderedDict, *namespaceValue:
	default:
		return nil, fmt.Errorf("unsupported value: %s", typeName(v))
	}
	if out, ok := c.done[v]; ok {
		return out, nil
	}
	if c.active[v] {
		return nil, fmt.Errorf("%s contains itself", typeName(v))
	}
	if c.depth >= maxNesting {
		return nil, fmt.Errorf("objects nested more than %d deep", maxNesting)
	}
	c.active[v] = true
	c.depth++
	out, err := c.container(v)
	c.depth--
	delete(c.active, v)
	if err != nil {
		return nil, err
	}
	c.done[v] = out
	return out, nil
}

func (c *converter) container(v any) (any, error) {
	switch x := v.(type) {
	case *pendingTensor:
		return c.l.materialize(x)
	case *types.List:
		return c.list(*x)
	case *types.Tuple:
		return c.list(*x)
	case *types.Dict:
		d := &OrderedDict{}
		for _, e := range *x {
			if err := c.entry(d, e.Key, e.Value); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *types.OrderedDict:
		d := &OrderedDict{}
		for el := x.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			if err := c.entry(d, e.Key, e.Value); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *namespaceValue:
		ns := &Namespace{Attrs: &OrderedDict{}}
		if x.state != nil {
			for _, e := range *x.state {
				if err := c.entry(ns.Attrs, e.Key, e.Value); err != nil {
					return nil, fmt.Errorf("argparse.Namespace: %w", err)
				}
			}
		}
		return ns, nil
	}
	panic("unreachable")
}

func (c *converter) list(items []any) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		var err error
		if out[i], err = c.value(it); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *converter) entry(d *OrderedDict, k, v any) error {
	key, err := c.value(k)
	if err != nil {
		return err
	}
	val, err := c.value(v)
	if err != nil {
		if s, ok := key.(string); ok {
			return fmt.Errorf("%s: %w", Quote(s), err)
		}
		return err
	}
	d.set(key, val)
	return nil
}

// materialize decodes a tensor from its storage, following the offset and
// strides, after checking that every element it reads lies in the storage.
func (l *loader) materialize(p *pendingTensor) (*Tensor, error) {
	ref, st := p.ref, p.ref.st
	numel, ok := numElements(p.shape)
	if !ok {
		return nil, fmt.Errorf("tensor of size %v has too many elements", p.shape)
	}
	if l.elements -= int64(numel); l.elements < 0 {
		return nil, fmt.Errorf("tensor of size %v: the checkpoint's tensors have far more elements than its storages", p.shape)
	}
	if numel > 0 {
		// The last element read is at offset + sum((size-1)*stride).
		last := p.offset
		for i, n := range p.shape {
			step := n - 1
			if p.stride[i] != 0 && step > (math.MaxInt-last)/p.stride[i] {
				return nil, fmt.Errorf("tensor of size %v and stride %v reaches beyond any storage", p.shape, p.stride)
			}
			last += step * p.stride[i]
		}
		if last >= ref.numel {
			return nil, fmt.Errorf("tensor of size %v, stride %v at offset %d needs %d elements but storage %s has only %d",
				p.shape, p.stride, p.offset, last+1, Quote(st.key), ref.numel)
		}
	} else if p.offset > ref.numel {
		return nil, fmt.Errorf("empty tensor at offset %d beyond storage %s of %d elements", p.offset, Quote(st.key), ref.numel)
	}
	t := &Tensor{Shape: p.shape, DType: st.dtype}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	if st.dtype.IsFloat() {
		t.F32 = make([]float32, numel)
	} else {
		t.I64 = make([]int64, numel)
	}
	esize := st.dtype.Size()
	start := ref.base + p.offset
	if contiguous(p.shape, p.stride) {
		raw := st.data[start*esize : (start+numel)*esize]
		if st.dtype.IsFloat() {
			decodeFloats(t.F32, st.dtype, raw)
			return t, nil
		}
		if err := decodeInts(t.I64, st.dtype, raw); err != nil {
			return nil, fmt.Errorf("storage %s: %w", Quote(st.key), err)
		}
		return t, nil
	}
	idx := make([]int, len(p.shape))
	src := start
	for i := range numel {
		if st.dtype.IsFloat() {
			t.F32[i] = floatAt(st.dtype, st.data, src)
		} else {
			var err error
			if t.I64[i], err = intAt(st.dtype, st.data, src); err != nil {
				return nil, fmt.Errorf("storage %s element %d: %w", Quote(st.key), src, err)
			}
		}
		// Advance the index like an odometer, last dimension fastest.
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			src += p.stride[d]
			if idx[d] < p.shape[d] {
				break
			}
			src -= p.stride[d] * p.shape[d]
			idx[d] = 0
		}
	}
	return t, nil
}

// contiguous reports whether a tensor of this shape and stride is laid out
// row-major without gaps.
func contiguous(shape, stride []int) bool {
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// typeName describes a value of the unpickled tree for error messages, with
// an article: "a dict", "an int".
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case *storageRef:
		return "a bare storage"
	case *storageClass:
		return "a storage type"
	case *function:
		return "the function " + x.name
	case *numpyDTypeValue:
		return "a numpy dtype"
	case *pendingTensor, *Tensor:
		return "a tensor"
	case *types.List, []any:
		return "a list"
	case *types.Tuple:
		return "a tuple"
	case *types.Dict, *types.OrderedDict, *OrderedDict:
		return "a dict"
	case *types.Set:
		return "a set"
	case *types.FrozenSet:
		return "a frozenset"
	case *types.OrderedDictClass:
		return "the class collections.OrderedDict"
	case namespaceClass:
		return "the class argparse.Namespace"
	case *namespaceValue, *Namespace:
		return "an argparse.Namespace"
	case string:
		return "a str"
	case int, *big.Int:
		return "an int"
	case float64:
		return "a float"
	case bool:
		return "a bool"
	case []byte, *pyBytes:
		return "bytes"
	}
	return fmt.Sprintf("a Go %T", v)
}
