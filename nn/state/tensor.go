package state

import (
	"errors"
	"fmt"
	"math"
)

// DType is the element type of a tensor as stored in a file. The zero value
// is not a valid type.
type DType uint8

// The element types that safetensors and PyTorch checkpoints use. Their
// String form is the safetensors spelling ("F32", "BOOL", ...).
const (
	F16  DType = iota + 1 // IEEE 754 half precision
	BF16                  // bfloat16: the top 16 bits of a float32
	F32                   // IEEE 754 single precision
	F64                   // IEEE 754 double precision
	I8                    // signed 8-bit integer
	I16                   // signed 16-bit integer
	I32                   // signed 32-bit integer
	I64                   // signed 64-bit integer
	U8                    // unsigned 8-bit integer
	Bool                  // one byte, 0 or 1
)

var dtypeNames = [...]string{F16: "F16", BF16: "BF16", F32: "F32", F64: "F64",
	I8: "I8", I16: "I16", I32: "I32", I64: "I64", U8: "U8", Bool: "BOOL"}

var dtypeSizes = [...]int{F16: 2, BF16: 2, F32: 4, F64: 8, I8: 1, I16: 2, I32: 4, I64: 8, U8: 1, Bool: 1}

// String returns the safetensors name of d, or "DType(n)" for an invalid one.
func (d DType) String() string {
	if d.Valid() {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Valid reports whether d is one of the defined element types.
func (d DType) Valid() bool { return d >= F16 && d <= Bool }

// Size returns the number of bytes of one element of type d (0 if d is not
// valid).
func (d DType) Size() int {
	if d.Valid() {
		return dtypeSizes[d]
	}
	return 0
}

// IsFloat reports whether d is a floating-point type; such tensors keep their
// values in Tensor.F32, all others in Tensor.I64.
func (d DType) IsFloat() bool { return d == F16 || d == BF16 || d == F32 || d == F64 }

// parseDType returns the DType with the given safetensors name.
func parseDType(name string) (DType, bool) {
	for d := F16; d <= Bool; d++ {
		if dtypeNames[d] == name {
			return d, true
		}
	}
	return 0, false
}

// Tensor is a named array read from or written to a state file: its shape,
// the element type in the file and its values in row-major order. Values of
// floating-point types (F16, BF16, F32, F64) are held as float32 in F32;
// values of integer types and Bool (0 or 1) as int64 in I64. Exactly one of
// the two slices is used, and its length is the product of Shape (1 for a
// scalar, whose Shape is empty).
//
// When writing, DType says how the values are stored: float32 values are
// rounded to F16 or BF16 (to nearest, ties to even) or widened to F64, and
// integers must fit the integer type.
type Tensor struct {
	Shape []int
	DType DType
	F32   []float32
	I64   []int64
}

// NumElements returns the product of t's shape, or -1 if a dimension is
// negative or the product overflows an int.
func (t *Tensor) NumElements() int {
	n, ok := numElements(t.Shape)
	if !ok {
		return -1
	}
	return n
}

// numElements returns the product of shape, or false if a dimension is
// negative or the product overflows.
func numElements(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// Validate checks that t is consistent: a valid DType, a shape without
// negative dimensions and exactly as many values as the shape holds, in the
// slice that DType selects.
func (t *Tensor) Validate() error {
	if t == nil {
		return errors.New("nil tensor")
	}
	if !t.DType.Valid() {
		return fmt.Errorf("invalid dtype %v", t.DType)
	}
	n, ok := numElements(t.Shape)
	if !ok {
		return fmt.Errorf("invalid shape %v", t.Shape)
	}
	if t.DType.IsFloat() {
		if len(t.F32) != n || t.I64 != nil {
			return fmt.Errorf("%v tensor of shape %v needs %d values in F32 (and none in I64), has %d and %d",
				t.DType, t.Shape, n, len(t.F32), len(t.I64))
		}
	} else if len(t.I64) != n || t.F32 != nil {
		return fmt.Errorf("%v tensor of shape %v needs %d values in I64 (and none in F32), has %d and %d",
			t.DType, t.Shape, n, len(t.I64), len(t.F32))
	}
	return nil
}

// Dict is a flat collection of named tensors, such as a model's state dict,
// with optional string metadata (safetensors' "__metadata__").
type Dict struct {
	// Keys lists the tensor names in file order: the order of the data in a
	// safetensors file, the order of the dict in a checkpoint.
	Keys []string
	// Tensors maps every name in Keys to its tensor. Two names may share one
	// *Tensor when the checkpoint stored one tensor under both.
	Tensors map[string]*Tensor
	// Meta is free-form metadata; only safetensors files carry it.
	Meta map[string]string
}

// NewDict returns an empty Dict ready for Set.
func NewDict() *Dict {
	return &Dict{Tensors: map[string]*Tensor{}, Meta: map[string]string{}}
}

// Set stores t under name, appending name to Keys if it is new.
func (d *Dict) Set(name string, t *Tensor) {
	if d.Tensors == nil {
		d.Tensors = map[string]*Tensor{}
	}
	if _, ok := d.Tensors[name]; !ok {
		d.Keys = append(d.Keys, name)
	}
	d.Tensors[name] = t
}

// Len returns the number of tensors in d.
func (d *Dict) Len() int { return len(d.Keys) }

// Validate checks that Keys and Tensors name the same tensors, each once,
// and that every tensor is valid.
func (d *Dict) Validate() error {
	if len(d.Keys) != len(d.Tensors) {
		return fmt.Errorf("dict has %d keys but %d tensors", len(d.Keys), len(d.Tensors))
	}
	seen := make(map[string]bool, len(d.Keys))
	for _, k := range d.Keys {
		if seen[k] {
			return fmt.Errorf("key %q is listed twice", k)
		}
		seen[k] = true
		t, ok := d.Tensors[k]
		if !ok {
			return fmt.Errorf("key %q has no tensor", k)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("tensor %q: %w", k, err)
		}
	}
	return nil
}
