package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestReadSafetensorsFixture reads the file fixtures_state.py wrote by hand
// (data in the order b, a, c; header keys in another order).
func TestReadSafetensorsFixture(t *testing.T) {
	exp := loadExpected(t).HandSafetensors
	d, err := ReadSafetensors(filepath.Join(fixtures, "hand.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Keys, exp.Keys) {
		t.Errorf("keys %v, want %v (data order)", d.Keys, exp.Keys)
	}
	if len(d.Meta) != len(exp.Metadata) {
		t.Errorf("metadata %v, want %v", d.Meta, exp.Metadata)
	}
	for k, v := range exp.Metadata {
		if d.Meta[k] != v {
			t.Errorf("metadata %q = %q, want %q", k, d.Meta[k], v)
		}
	}
	for k, want := range exp.Tensors {
		checkTensor(t, k, d.Tensors[k], want)
	}
	if err := d.Validate(); err != nil {
		t.Error(err)
	}
}

func sampleDict() *Dict {
	d := NewDict()
	d.Set("z.f32", &Tensor{Shape: []int{2, 3}, DType: F32, F32: []float32{1, -2, 3.5, float32(math.Inf(-1)), 0, 1e-30}})
	d.Set("a.f16", &Tensor{Shape: []int{3}, DType: F16, F32: []float32{0.5, -65504, 6e-8}})
	d.Set("b.bf16", &Tensor{Shape: []int{2}, DType: BF16, F32: []float32{1.5, -3e38}})
	d.Set("c.f64", &Tensor{Shape: []int{1}, DType: F64, F32: []float32{0.1}})
	d.Set("d.i64", &Tensor{Shape: []int{}, DType: I64, I64: []int64{math.MinInt64}})
	d.Set("e.i32", &Tensor{Shape: []int{2}, DType: I32, I64: []int64{math.MaxInt32, -5}})
	d.Set("f.i16", &Tensor{Shape: []int{1}, DType: I16, I64: []int64{-32768}})
	d.Set("g.i8", &Tensor{Shape: []int{2}, DType: I8, I64: []int64{-128, 127}})
	d.Set("h.u8", &Tensor{Shape: []int{2}, DType: U8, I64: []int64{0, 255}})
	d.Set("i.bool", &Tensor{Shape: []int{3}, DType: Bool, I64: []int64{1, 0, 1}})
	d.Set("j.empty", &Tensor{Shape: []int{0, 4}, DType: F32, F32: []float32{}})
	d.Meta["format"] = "pt"
	d.Meta["note"] = `<"quoted" & é>`
	return d
}

func TestSafetensorsRoundTrip(t *testing.T) {
	d := sampleDict()
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteSafetensors(path, d); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Sorted(slices.Values(d.Keys))
	if !slices.Equal(got.Keys, sorted) {
		t.Errorf("keys %v, want sorted %v", got.Keys, sorted)
	}
	for _, k := range d.Keys {
		w, g := d.Tensors[k], got.Tensors[k]
		if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.I64, w.I64) {
			t.Errorf("%s: got %+v, want %+v", k, g, w)
		}
		for i, v := range w.F32 {
			want := v
			switch w.DType { // what the narrower types keep
			case F16:
				want = f16ToF32(f32ToF16(v))
			case BF16:
				want = bf16ToF32(f32ToBF16(v))
			}
			if g.F32[i] != want {
				t.Errorf("%s[%d] = %v, want %v", k, i, g.F32[i], want)
			}
		}
	}
	if got.Meta["note"] != d.Meta["note"] || got.Meta["format"] != "pt" {
		t.Errorf("metadata %v", got.Meta)
	}
	if want := []float32{0.5, -65504, 5.9604645e-08}; !slices.Equal(got.Tensors["a.f16"].F32, want) {
		t.Errorf("f16 values %v, want %v", got.Tensors["a.f16"].F32, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the output", len(entries))
	}
}

// TestSafetensorsLayout checks the exact bytes: the header as the reference
// implementation writes it, then the data in name order.
func TestSafetensorsLayout(t *testing.T) {
	d := NewDict()
	d.Set("b", &Tensor{Shape: []int{1}, DType: F32, F32: []float32{2}})
	d.Set("a", &Tensor{Shape: []int{}, DType: I64, I64: []int64{-1}})
	d.Meta["k"] = "v"
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, d); err != nil {
		t.Fatal(err)
	}
	// The checksum is the SHA-256 of the file with its digits as zeros.
	file := func(header string, data []byte) []byte {
		header += strings.Repeat(" ", (8-len(header)%8)%8)
		zero := strings.Repeat("0", 64)
		f := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		f = append(append(f, header...), data...)
		sum := sha256.Sum256(f)
		return bytes.Replace(f, []byte(zero), []byte(hex.EncodeToString(sum[:])), 1)
	}
	header := `{"__metadata__":{"k":"v","pcx_sha256":"` + strings.Repeat("0", 64) + `"},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},` +
		`"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
	want := file(header, append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, f32bytes(2)...))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got\n%q\nwant\n%q", buf.Bytes(), want)
	}

	// An empty dict has only the checksum.
	buf.Reset()
	if err := EncodeSafetensors(&buf, NewDict()); err != nil {
		t.Fatal(err)
	}
	if want := file(`{"__metadata__":{"pcx_sha256":"`+strings.Repeat("0", 64)+`"}}`, nil); !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("empty dict: %q", buf.String())
	}
}

// TestSafetensorsChecksum damages files pcx wrote: flipped bits in the data
// or the metadata are an error naming the file that matches ErrChecksum;
// an intact file reads back, without the checksum in its Meta.
func TestSafetensorsChecksum(t *testing.T) {
	d := sampleDict()
	d.Meta["epoch"] = "3"
	path := filepath.Join(t.TempDir(), "last.safetensors")
	if err := WriteSafetensors(path, d); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.Meta[ChecksumKey]; ok || back.Meta["epoch"] != "3" {
		t.Errorf("metadata read back: %v", back.Meta)
	}
	dataStart := 8 + int(binary.LittleEndian.Uint64(good))
	epoch := bytes.Index(good, []byte(`"epoch":"3"`)) + len(`"epoch":"`)
	digit := bytes.Index(good, []byte(ChecksumKey)) + len(ChecksumKey) + 3
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name  string
		flips []int // bit positions
	}{
		{"40 bits in the data", func() []int {
			var fs []int
			for range 40 {
				fs = append(fs, 8*dataStart+r.IntN(8*(len(good)-dataStart)))
			}
			return fs
		}()},
		{"one bit in the data", []int{8 * (len(good) - 1)}},
		{"epoch 3 to 2", []int{8 * epoch}},
		{"a checksum digit", []int{8*digit + 4}},
	} {
		bad := slices.Clone(good)
		for _, f := range c.flips {
			bad[f/8] ^= 1 << (f % 8)
		}
		if bytes.Equal(bad, good) {
			continue // the flips cancelled out
		}
		p := writeTemp(t, "last.safetensors", bad)
		_, err := ReadSafetensors(p)
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want ErrChecksum naming the file", c.name, err)
		}
	}
}

func TestWriteSafetensorsRefusesBadDicts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keep.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		d    *Dict
		want string
	}{
		{"value count", &Dict{Keys: []string{"x"}, Tensors: map[string]*Tensor{"x": {Shape: []int{2}, DType: F32, F32: []float32{1}}}},
			`tensor "x": F32 tensor of shape [2] needs 2 values in F32`},
		{"wrong slice", &Dict{Keys: []string{"x"}, Tensors: map[string]*Tensor{"x": {Shape: []int{1}, DType: I64, F32: []float32{1}}}},
			"needs 1 values in I64"},
		{"no dtype", &Dict{Keys: []string{"x"}, Tensors: map[string]*Tensor{"x": {Shape: []int{1}, F32: []float32{1}}}},
			"invalid dtype DType(0)"},
		{"out of range", &Dict{Keys: []string{"x"}, Tensors: map[string]*Tensor{"x": {Shape: []int{2}, DType: U8, I64: []int64{1, 256}}}},
			"element 1 = 256 does not fit U8"},
		{"bool 2", &Dict{Keys: []string{"x"}, Tensors: map[string]*Tensor{"x": {Shape: []int{1}, DType: Bool, I64: []int64{2}}}},
			"does not fit BOOL"},
		{"keys mismatch", &Dict{Keys: []string{"x", "y"}, Tensors: map[string]*Tensor{"x": {Shape: []int{1}, DType: I8, I64: []int64{2}}}},
			"2 keys but 1 tensors"},
		{"negative dim", &Dict{Keys: []string{"x"}, Tensors: map[string]*Tensor{"x": {Shape: []int{-1}, DType: I8}}},
			"invalid shape [-1]"},
		{"reserved name", &Dict{Keys: []string{"__metadata__"}, Tensors: map[string]*Tensor{"__metadata__": {Shape: []int{}, DType: I8, I64: []int64{0}}}},
			`cannot be named "__metadata__"`},
	} {
		err := WriteSafetensors(path, c.d)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Error("a failed write changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("failed writes left %d files", len(entries))
	}
	if err := WriteSafetensors(filepath.Join(dir, "no/such/dir/x.safetensors"), sampleDict()); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// stFile builds a safetensors file from a header and a data buffer.
func stFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// TestReadSafetensorsErrors feeds bad files; each error must name the file
// and the problem.
func TestReadSafetensorsErrors(t *testing.T) {
	f32 := func(name string, shape string, b, e int) string {
		return `"` + name + `":{"dtype":"F32","shape":` + shape + `,"data_offsets":[` + strconv.Itoa(b) + `,` + strconv.Itoa(e) + `]}`
	}
	eight := make([]byte, 8)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "file of 0 bytes is too short"},
		{"short length", []byte{1, 2, 3}, "too short for the 8-byte header length"},
		{"length beyond file", stFile("{}", nil)[:9], "header length 2 exceeds the 1 bytes after it"},
		{"huge length", binary.LittleEndian.AppendUint64(nil, 1<<63), "exceeds the 0 bytes after it"},
		{"not an object", stFile("[]      ", nil), "does not start with '{'"},
		{"not JSON", stFile("{nope}  ", nil), "invalid character"},
		{"invalid UTF-8", stFile("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"trailing garbage", stFile("{} x", nil), "after the JSON object are not white space"},
		{"unknown dtype", stFile(`{"x":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}`, eight[:1]), `tensor "x": unknown dtype "F8"`},
		{"missing field", stFile(`{"x":{"dtype":"F32","shape":[1]}}`, eight[:4]), `needs "dtype", "shape" and "data_offsets"`},
		{"unknown field", stFile(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`, eight[:4]), `unknown field "extra"`},
		{"negative dimension", stFile(`{`+f32("x", "[-1]", 0, 4)+`}`, eight[:4]), "invalid dimension -1"},
		{"fractional dimension", stFile(`{`+f32("x", "[1.5]", 0, 4)+`}`, eight[:4]), "cannot unmarshal number 1.5"},
		{"overflowing shape", stFile(`{`+f32("x", "[4294967296,4294967296,4294967296]", 0, 4)+`}`, eight[:4]), "too many elements"},
		{"size mismatch", stFile(`{`+f32("x", "[2,2]", 0, 8)+`}`, eight), "hold 8 bytes but F32 [2 2] needs 16"},
		{"offsets beyond data", stFile(`{`+f32("x", "[4]", 0, 16)+`}`, eight), "data_offsets [0, 16] are not within the 8-byte data buffer"},
		{"reversed offsets", stFile(`{`+f32("x", "[0]", 4, 0)+`}`, eight), "are not within"},
		{"three offsets", stFile(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, eight), "must be [begin, end]"},
		{"overlap", stFile(`{`+f32("x", "[2]", 0, 8)+`,`+f32("y", "[1]", 4, 8)+`}`, eight), `tensor "y" (bytes 4 to 8) overlaps tensor "x"`},
		{"gap", stFile(`{`+f32("x", "[1]", 4, 8)+`}`, eight), `bytes 0 to 4 of the data, before tensor "x", belong to no tensor`},
		{"uncovered tail", stFile(`{`+f32("x", "[1]", 0, 4)+`}`, eight), "tensors cover 4 bytes but the data buffer has 8"},
		{"duplicate key", stFile(`{`+f32("x", "[1]", 0, 4)+`,`+f32("x", "[1]", 4, 8)+`}`, eight), `key "x" appears twice`},
		{"metadata not strings", stFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__ must map strings to strings"},
		{"bool 2", stFile(`{"x":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}), "BOOL element 1 is 0x02, not 0 or 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "bad.safetensors", c.data)
			_, err := ReadSafetensors(path)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant the path and %q", err, c.want)
			}
		})
	}
	if _, err := ReadSafetensors(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadSafetensorsMeta reads a file's metadata without its data (the
// checksum key left out), and names the file when the header is bad.
func TestReadSafetensorsMeta(t *testing.T) {
	d := &Dict{Meta: map[string]string{"pcx_modality": "images"}}
	d.Set("w", &Tensor{Shape: []int{2}, DType: F32, F32: []float32{1, 2}})
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteSafetensors(path, d); err != nil {
		t.Fatal(err)
	}
	meta, err := ReadSafetensorsMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != 1 || meta["pcx_modality"] != "images" {
		t.Errorf("metadata %v", meta)
	}
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(bad, []byte{255, 255, 255, 255, 0, 0, 0, 0, '{'}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSafetensorsMeta(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a header longer than the file: %v", err)
	}
}
