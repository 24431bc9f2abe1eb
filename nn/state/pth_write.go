package state

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/pcx-dev/pcx/internal/atomicfile"
)

// Tuple is a Python tuple for EncodePTH (a []any is written as a list).
type Tuple []any

// NewOrderedDict returns an empty OrderedDict ready for Set, to build an
// object for EncodePTH.
func NewOrderedDict() *OrderedDict { return &OrderedDict{} }

// Set stores value under key; as in Python, a repeated key keeps its first
// position and takes the last value.
func (d *OrderedDict) Set(key, value any) { d.set(key, value) }

// PTHArchive is the folder name EncodePTH gives the records of its zip
// archive (torch.save names it after the file; readers accept any).
const PTHArchive = "archive"

// pthAlign is the alignment torch gives the records of its archives.
const pthAlign = 64

// WritePTH writes obj to path as torch.save does (see EncodePTH),
// atomically: the data goes to a temporary file in the same directory that
// is synced and renamed over path, and is removed if anything fails. The
// object is checked before any file is created.
func WritePTH(path string, obj any) error {
	p, err := picklePTH(obj)
	if err != nil {
		return fmt.Errorf("state: %s: %w", path, err)
	}
	if err := atomicfile.Write(path, p.writeZip); err != nil {
		return fmt.Errorf("state: %s: %w", path, err)
	}
	return nil
}

// EncodePTH writes obj in the zip format of torch.save (torch >= 1.6),
// which torch.load reads: archive/data.pkl, a protocol-2 pickle of obj in
// which every tensor is a call of torch._utils._rebuild_tensor_v2 on a
// persistent id ("storage", torch.<Type>Storage, key, "cpu", elements),
// archive/byteorder ("little"), archive/data/<key>, the elements of each
// storage in little-endian order, and archive/version ("3"). Records are
// stored uncompressed, 64-byte aligned as torch aligns them, with no
// timestamps, so the same object always gives the same bytes.
//
// obj is a tree of these Go values, written as the Python values that
// DecodePTH reads back:
//
//	nil, bool, string (UTF-8)        None, bool, str
//	int and the sized integer types  int (any size; *big.Int too)
//	float64, float32                 float
//	*Tensor                          a contiguous CPU tensor of its DType
//	*Dict                            a collections.OrderedDict of its tensors
//	                                 in Keys order: a state dict (Meta is
//	                                 not written)
//	*OrderedDict, map[string]any     dict (a map's keys sorted)
//	[]any, Tuple                     list, tuple
//
// A *Tensor met twice (in one Dict or anywhere in obj) is pickled once
// and stored once, and loads as one tensor. Any other type, an
// invalid tensor, a string that is not UTF-8 or a tree deeper than 256
// levels or containing itself is an error, and nothing is written.
//
// torch.load(path, weights_only=True) accepts every value but float: torch
// 1.13's restricted unpickler lacks the BINFLOAT opcode (later versions
// have it), so a file with a float reads with weights_only=False only.
func EncodePTH(w io.Writer, obj any) error {
	p, err := picklePTH(obj)
	if err != nil {
		return err
	}
	return p.writeZip(w)
}

// pthPickler builds the pickle of EncodePTH and collects the storages.
type pthPickler struct {
	b        bytes.Buffer
	memo     map[string]int     // memoized globals and strings, by pickle text
	puts     int                // memo entries made
	tensors  map[*Tensor]int    // memo index of each tensor pickled
	keys     map[*Tensor]string // storage key of each tensor
	storages []*Tensor          // in key order
	active   map[any]bool       // containers being pickled
	depth    int
}

func picklePTH(obj any) (*pthPickler, error) {
	p := &pthPickler{memo: map[string]int{}, tensors: map[*Tensor]int{}, keys: map[*Tensor]string{}, active: map[any]bool{}}
	p.b.WriteString("\x80\x02") // PROTO 2
	if err := p.value(obj); err != nil {
		return nil, err
	}
	p.b.WriteByte('.') // STOP
	return p, nil
}

// value pickles one value.
func (p *pthPickler) value(v any) error {
	switch x := v.(type) {
	case nil:
		p.b.WriteByte('N')
	case bool:
		if x {
			p.b.WriteByte('\x88')
		} else {
			p.b.WriteByte('\x89')
		}
	case int:
		p.int(int64(x))
	case int8:
		p.int(int64(x))
	case int16:
		p.int(int64(x))
	case int32:
		p.int(int64(x))
	case int64:
		p.int(x)
	case uint8:
		p.int(int64(x))
	case uint16:
		p.int(int64(x))
	case uint32:
		p.int(int64(x))
	case uint:
		p.bigInt(new(big.Int).SetUint64(uint64(x)))
	case uint64:
		p.bigInt(new(big.Int).SetUint64(x))
	case *big.Int:
		if x == nil {
			return errors.New("nil *big.Int")
		}
		if x.BitLen() > 8*maxLongBytes-1 {
			return fmt.Errorf("integer of %d bits is too long", x.BitLen())
		}
		p.bigInt(x)
	case float64:
		p.float(x)
	case float32:
		p.float(float64(x))
	case string:
		return p.str(x)
	case *Tensor:
		return p.tensor(x)
	case *Dict, *OrderedDict, map[string]any, []any, Tuple:
		return p.container(v)
	default:
		return fmt.Errorf("cannot write a %T to a PyTorch checkpoint", v)
	}
	return nil
}

// container pickles a value that holds others, refusing cycles and deep
// nesting.
func (p *pthPickler) container(v any) error {
	var id any = v
	switch x := v.(type) { // slices and maps are not comparable: key by their data
	case map[string]any:
		id = fmt.Sprintf("%p", x)
	case []any:
		id = fmt.Sprintf("%p/%d", x, len(x))
	case Tuple:
		id = fmt.Sprintf("%p/%d", x, len(x))
	}
	if p.active[id] {
		return fmt.Errorf("a %T contains itself", v)
	}
	if p.depth >= maxNesting {
		return fmt.Errorf("objects nested more than %d deep", maxNesting)
	}
	p.active[id] = true
	p.depth++
	defer func() { p.depth--; delete(p.active, id) }()
	switch x := v.(type) {
	case *Dict:
		if x == nil {
			return errors.New("nil *Dict")
		}
		if err := x.Validate(); err != nil {
			return err
		}
		p.global("collections", "OrderedDict")
		p.b.WriteString(")R") // EMPTY_TUPLE, REDUCE
		return p.items(len(x.Keys), 'u', func(i int) error {
			if err := p.str(x.Keys[i]); err != nil {
				return err
			}
			if err := p.tensor(x.Tensors[x.Keys[i]]); err != nil {
				return fmt.Errorf("tensor %s: %w", Quote(x.Keys[i]), err)
			}
			return nil
		})
	case *OrderedDict:
		if x == nil {
			return errors.New("nil *OrderedDict")
		}
		p.b.WriteByte('}') // EMPTY_DICT
		return p.items(len(x.keys), 'u', func(i int) error {
			if err := p.key(x.keys[i]); err != nil {
				return err
			}
			return p.entry(x.keys[i], x.values[i])
		})
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		p.b.WriteByte('}')
		return p.items(len(keys), 'u', func(i int) error {
			if err := p.str(keys[i]); err != nil {
				return err
			}
			return p.entry(keys[i], x[keys[i]])
		})
	case []any:
		p.b.WriteByte(']') // EMPTY_LIST
		return p.items(len(x), 'e', func(i int) error { return p.value(x[i]) })
	case Tuple:
		switch len(x) {
		case 0:
			p.b.WriteByte(')')
			return nil
		case 1, 2, 3:
			for _, it := range x {
				if err := p.value(it); err != nil {
					return err
				}
			}
			p.b.WriteByte(0x84 + byte(len(x))) // TUPLE1, TUPLE2, TUPLE3
			return nil
		}
		p.b.WriteByte('(') // MARK
		for _, it := range x {
			if err := p.value(it); err != nil {
				return err
			}
		}
		p.b.WriteByte('t') // TUPLE
	}
	return nil
}

// entry pickles a dict's value, naming its key in an error.
func (p *pthPickler) entry(k, v any) error {
	if err := p.value(v); err != nil {
		if s, ok := k.(string); ok {
			return fmt.Errorf("%s: %w", Quote(s), err)
		}
		return err
	}
	return nil
}

// key pickles a dict key, which must be hashable in Python.
func (p *pthPickler) key(k any) error {
	switch k.(type) {
	case nil, bool, string, int, int8, int16, int32, int64, uint8, uint16, uint32, uint, uint64, float64, float32:
		return p.value(k)
	}
	return fmt.Errorf("a %T cannot be a dict key", k)
}

// items pickles n items (pairs for SETITEMS) after the container on the
// stack, in batches of 1000 as Python's pickler does.
func (p *pthPickler) items(n int, op byte, item func(int) error) error {
	for i := 0; i < n; i += 1000 {
		p.b.WriteByte('(') // MARK
		for j := i; j < min(i+1000, n); j++ {
			if err := item(j); err != nil {
				return err
			}
		}
		p.b.WriteByte(op) // SETITEMS or APPENDS
	}
	return nil
}

// global pushes module.name, memoized after its first use.
func (p *pthPickler) global(module, name string) {
	p.memoized("c"+module+"\n"+name+"\n", func() { p.b.WriteString("c" + module + "\n" + name + "\n") })
}

// memoized writes what write writes the first time text is asked for,
// then a BINGET of it.
func (p *pthPickler) memoized(text string, write func()) {
	if i, ok := p.memo[text]; ok {
		p.get(i)
		return
	}
	write()
	p.memo[text] = p.put()
}

// put memoizes the value on top of the stack under the next index.
func (p *pthPickler) put() int {
	i := p.puts
	p.puts++
	if i < 256 {
		p.b.WriteByte('q') // BINPUT
		p.b.WriteByte(byte(i))
	} else {
		p.b.WriteByte('r') // LONG_BINPUT
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
	return i
}

// get pushes the value memoized under i.
func (p *pthPickler) get(i int) {
	if i < 256 {
		p.b.WriteByte('h') // BINGET
		p.b.WriteByte(byte(i))
	} else {
		p.b.WriteByte('j') // LONG_BINGET
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
}

func (p *pthPickler) int(v int64) {
	switch {
	case v >= 0 && v < 1<<8:
		p.b.WriteByte('K') // BININT1
		p.b.WriteByte(byte(v))
	case v >= 0 && v < 1<<16:
		p.b.WriteByte('M') // BININT2
		p.b.Write(binary.LittleEndian.AppendUint16(nil, uint16(v)))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.b.WriteByte('J') // BININT
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(v))))
	default:
		p.bigInt(big.NewInt(v))
	}
}

// bigInt writes LONG1 (or LONG4): the two's complement of v, little-endian,
// in as few bytes as hold its sign.
func (p *pthPickler) bigInt(v *big.Int) {
	if v.IsInt64() && v.Int64() >= math.MinInt32 && v.Int64() <= math.MaxInt32 {
		p.int(v.Int64())
		return
	}
	n := v.BitLen()/8 + 1 // room for the sign bit
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	u := new(big.Int).Set(v)
	if v.Sign() < 0 {
		u.Add(u, mod)
	}
	be := u.FillBytes(make([]byte, n))
	slices.Reverse(be)
	if n < 256 {
		p.b.WriteByte('\x8a') // LONG1
		p.b.WriteByte(byte(n))
	} else {
		p.b.WriteByte('\x8b') // LONG4
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
	}
	p.b.Write(be)
}

func (p *pthPickler) float(v float64) {
	p.b.WriteByte('G') // BINFLOAT: big-endian
	p.b.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(v)))
}

func (p *pthPickler) str(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("string %s is not UTF-8", Quote(s))
	}
	if int64(len(s)) > math.MaxUint32 {
		return errors.New("string longer than 4 GiB")
	}
	p.b.WriteByte('X') // BINUNICODE
	p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.b.WriteString(s)
	return nil
}

// pthStorage names the torch storage class of each element type.
var pthStorage = map[DType]string{}

func init() {
	for name, dt := range storageTypes {
		pthStorage[dt] = name
	}
}

// tensor pickles _rebuild_tensor_v2(storage, 0, size, stride, False,
// OrderedDict()) for a contiguous tensor, its storage a persistent id.
func (p *pthPickler) tensor(t *Tensor) error {
	if i, ok := p.tensors[t]; ok { // one tensor met again: the same object
		p.get(i)
		return nil
	}
	key, ok := p.keys[t]
	if !ok {
		if err := t.Validate(); err != nil {
			return err
		}
		if !t.DType.IsFloat() {
			if err := checkInts(t.DType, t.I64); err != nil {
				return err
			}
		}
		key = strconv.Itoa(len(p.storages))
		p.keys[t] = key
		p.storages = append(p.storages, t)
	}
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.b.WriteString("((") // MARK for the arguments, MARK for the persistent id
	p.memoized("storage", func() { p.str("storage") })
	p.global("torch", pthStorage[t.DType])
	p.str(key)
	p.memoized("cpu", func() { p.str("cpu") })
	p.int(int64(t.NumElements()))
	p.b.WriteString("tQ") // TUPLE, BINPERSID
	p.int(0)              // storage offset
	stride := make([]int, len(t.Shape))
	step := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		stride[i] = step
		step *= max(t.Shape[i], 1)
	}
	p.ints(t.Shape)
	p.ints(stride)
	p.b.WriteByte('\x89') // requires_grad False
	p.global("collections", "OrderedDict")
	p.b.WriteString(")R") // backward hooks: OrderedDict()
	p.b.WriteString("tR") // TUPLE of the arguments, REDUCE
	p.tensors[t] = p.put()
	return nil
}

// ints pickles a tuple of ints.
func (p *pthPickler) ints(v []int) {
	t := make(Tuple, len(v))
	for i, x := range v {
		t[i] = x
	}
	p.container(t) // cannot fail for ints
}

// writeZip writes the archive: the pickle, the byte order, the storages
// and the version, each record stored and 64-byte aligned.
func (p *pthPickler) writeZip(w io.Writer) error {
	zw := zip.NewWriter(w)
	var off int64
	record := func(name string, size int64, crc uint32, write func(io.Writer) error) error {
		name = PTHArchive + "/" + name
		// Pad the local header with an extra field ("FB", as torch's) so
		// that the data starts at a multiple of 64.
		pad := (pthAlign - (off+30+int64(len(name))+4)%pthAlign) % pthAlign
		extra := binary.LittleEndian.AppendUint16(nil, 0x4246)
		extra = binary.LittleEndian.AppendUint16(extra, uint16(pad))
		extra = append(extra, bytes.Repeat([]byte{'Z'}, int(pad))...)
		fw, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc,
			CompressedSize64: uint64(size), UncompressedSize64: uint64(size), Extra: extra})
		if err != nil {
			return err
		}
		if err := write(fw); err != nil {
			return err
		}
		off += 30 + int64(len(name)) + int64(len(extra)) + size
		return nil
	}
	bytesRecord := func(name string, b []byte) error {
		return record(name, int64(len(b)), crc32.ChecksumIEEE(b), func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
	}
	if err := bytesRecord("data.pkl", p.b.Bytes()); err != nil {
		return err
	}
	if err := bytesRecord("byteorder", []byte("little")); err != nil {
		return err
	}
	buf := make([]byte, 0, ioChunk)
	for i, t := range p.storages {
		h := crc32.NewIEEE()
		writeTensorData(h, t, buf) // a hash never fails
		size := int64(t.NumElements()) * int64(t.DType.Size())
		if err := record("data/"+strconv.Itoa(i), size, h.Sum32(), func(w io.Writer) error {
			return writeTensorData(w, t, buf)
		}); err != nil {
			return err
		}
	}
	if err := bytesRecord("version", []byte("3\n")); err != nil {
		return err
	}
	return zw.Close()
}
