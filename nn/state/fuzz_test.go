package state

import (
	"archive/zip"
	"bytes"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// allocated runs f and returns the bytes it allocated (the whole process's,
// so the bound checked with it has some slack).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocBound is the most a decoder may allocate for n bytes of input.
func allocBound(n int) uint64 { return 1024*uint64(n) + 4<<20 }

func FuzzReadSafetensors(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(fixtures, "hand.safetensors")); err == nil {
		f.Add(b)
	}
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, sampleDict()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(stFile(`{"x":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]},"__metadata__":{"a":"b"}}`, []byte{1, 0}))
	f.Add(stFile(`{"x":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"y":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, []byte{1, 0}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d *Dict
		var err error
		if n := allocated(func() { d, err = DecodeSafetensors(bytes.NewReader(data), int64(len(data))) }); n > allocBound(len(data)) {
			t.Fatalf("decoding %d bytes allocated %d", len(data), n)
		}
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("decoded dict is invalid: %v", err)
		}
		// What was read can be written and read back unchanged.
		var buf bytes.Buffer
		if err := EncodeSafetensors(&buf, d); err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		d2, err := DecodeSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("re-reading: %v", err)
		}
		if len(d2.Keys) != len(d.Keys) || len(d2.Meta) != len(d.Meta) {
			t.Fatalf("round trip changed the dict")
		}
		for k, a := range d.Tensors {
			b := d2.Tensors[k]
			if b == nil || a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || !slices.Equal(a.I64, b.I64) ||
				!slices.EqualFunc(a.F32, b.F32, func(x, y float32) bool { return x == y || (x != x && y != y) }) {
				t.Fatalf("round trip changed tensor %q", k)
			}
		}
	})
}

// pthSeeds are the checkpoint fixtures, the pickles inside them and a few
// hand-made pickles.
func pthSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"pointmae.pth", "pointmae_legacy.pth", "pointmae_proto4.pth", "plain_state.pth", "malicious.pth"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
		if z, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
			for _, zf := range z.File {
				if filepath.Base(zf.Name) == "data.pkl" {
					rc, _ := zf.Open()
					pkl, _ := io.ReadAll(rc)
					seeds = append(seeds, pkl)
				}
			}
		}
	}
	var p pk
	p.op('\x80', '\x02', '}', '(')
	p.str("t").op('(').tensor("FloatStorage", "0", 4, 1, []int{2, 2}, []int{1, 2}).op('q', 0, 'h', 0, 'l')
	p.str("b").tensor("BoolStorage", "1", 4, 0, []int{4}, []int{1})
	p.op('u', '.')
	seeds = append(seeds, p.Bytes(),
		[]byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93."),
		[]byte("\x80\x02]q\x00h\x00a."),
		[]byte("(lp0\nI1\naF2.5\naS'x'\np1\nag1\na."),
		[]byte(namespacePickle))
	return seeds
}

// fuzzRecords are the storages a fuzzed data.pkl can refer to.
var fuzzRecords = map[string][]byte{
	"data/0": f32bytes(1, 2, 3, 4),
	"data/1": {1, 0, 1, 1},
	"data/2": {0, 0, 0x80, 0x3f, 0x00, 0x40, 0x00, 0x3c},
}

func FuzzReadPTH(f *testing.F) {
	for _, s := range pthSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The input as a whole file, then as the pickle of a zip checkpoint.
		inputs := [][]byte{data, ckpt(t, data, fuzzRecords)}
		for _, in := range inputs {
			var obj any
			var err error
			n := allocated(func() { obj, err = DecodePTH(bytes.NewReader(in), int64(len(in))) })
			if n > allocBound(len(in)) {
				t.Fatalf("decoding %d bytes allocated %d", len(in), n)
			}
			if err == nil {
				walk(t, obj, 0)
			}
		}
	})
}

// walk checks that a decoded tree holds only the documented types and valid
// tensors.
func walk(t *testing.T, v any, depth int) {
	if depth > maxNesting+1 {
		t.Fatal("tree deeper than the limit")
	}
	switch x := v.(type) {
	case nil, bool, int, float64, string, []byte:
	case *Tensor:
		if err := x.Validate(); err != nil {
			t.Fatalf("invalid tensor: %v", err)
		}
	case []any:
		for _, e := range x {
			walk(t, e, depth+1)
		}
	case *OrderedDict:
		for k, e := range x.All() {
			walk(t, k, depth+1)
			walk(t, e, depth+1)
		}
	case *big.Int:
	case *Namespace:
		walk(t, x.Attrs, depth+1)
	default:
		t.Fatalf("unexpected %T in tree", v)
	}
}
