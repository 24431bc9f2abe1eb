package state

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Element codecs shared by the safetensors and .pth readers and the
// safetensors writer. Stored data is little-endian.

// decodeFloats decodes len(dst) elements of the float type dt from raw,
// which holds exactly that many elements.
func decodeFloats(dst []float32, dt DType, raw []byte) {
	le := binary.LittleEndian
	switch dt {
	case F16:
		for i := range dst {
			dst[i] = f16ToF32(le.Uint16(raw[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = bf16ToF32(le.Uint16(raw[2*i:]))
		}
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	default:
		panic("state: decodeFloats of " + dt.String())
	}
}

// decodeInts decodes len(dst) elements of the integer or Bool type dt from
// raw. A Bool byte other than 0 or 1 is an error naming its element.
func decodeInts(dst []int64, dt DType, raw []byte) error {
	le := binary.LittleEndian
	switch dt {
	case I8:
		for i := range dst {
			dst[i] = int64(int8(raw[i]))
		}
	case U8:
		for i := range dst {
			dst[i] = int64(raw[i])
		}
	case Bool:
		for i := range dst {
			if raw[i] > 1 {
				return fmt.Errorf("BOOL element %d is %#02x, not 0 or 1", i, raw[i])
			}
			dst[i] = int64(raw[i])
		}
	case I16:
		for i := range dst {
			dst[i] = int64(int16(le.Uint16(raw[2*i:])))
		}
	case I32:
		for i := range dst {
			dst[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case I64:
		for i := range dst {
			dst[i] = int64(le.Uint64(raw[8*i:]))
		}
	default:
		panic("state: decodeInts of " + dt.String())
	}
	return nil
}

// floatAt decodes element i of the float type dt from raw.
func floatAt(dt DType, raw []byte, i int) float32 {
	var v [1]float32
	n := dt.Size()
	decodeFloats(v[:], dt, raw[i*n:(i+1)*n])
	return v[0]
}

// intAt decodes element i of the integer or Bool type dt from raw.
func intAt(dt DType, raw []byte, i int) (int64, error) {
	var v [1]int64
	n := dt.Size()
	err := decodeInts(v[:], dt, raw[i*n:(i+1)*n])
	return v[0], err
}

// intRange returns the smallest and largest value of the integer type dt.
func intRange(dt DType) (lo, hi int64) {
	switch dt {
	case I8:
		return math.MinInt8, math.MaxInt8
	case I16:
		return math.MinInt16, math.MaxInt16
	case I32:
		return math.MinInt32, math.MaxInt32
	case U8:
		return 0, math.MaxUint8
	case Bool:
		return 0, 1
	}
	return math.MinInt64, math.MaxInt64
}

// encodeFloats appends the float32 values src, stored as dt, to dst.
func encodeFloats(dst []byte, dt DType, src []float32) []byte {
	le := binary.LittleEndian
	for _, v := range src {
		switch dt {
		case F16:
			dst = le.AppendUint16(dst, f32ToF16(v))
		case BF16:
			dst = le.AppendUint16(dst, f32ToBF16(v))
		case F32:
			dst = le.AppendUint32(dst, math.Float32bits(v))
		case F64:
			dst = le.AppendUint64(dst, math.Float64bits(float64(v)))
		default:
			panic("state: encodeFloats to " + dt.String())
		}
	}
	return dst
}

// checkInts reports the first value of src outside the range of the
// integer type dt.
func checkInts(dt DType, src []int64) error {
	lo, hi := intRange(dt)
	for i, v := range src {
		if v < lo || v > hi {
			return fmt.Errorf("element %d = %d does not fit %v", i, v, dt)
		}
	}
	return nil
}

// encodeInts appends the values src, which checkInts accepted, stored as dt,
// to dst.
func encodeInts(dst []byte, dt DType, src []int64) []byte {
	le := binary.LittleEndian
	for _, v := range src {
		switch dt.Size() {
		case 1:
			dst = append(dst, byte(v))
		case 2:
			dst = le.AppendUint16(dst, uint16(v))
		case 4:
			dst = le.AppendUint32(dst, uint32(v))
		default:
			dst = le.AppendUint64(dst, uint64(v))
		}
	}
	return dst
}
