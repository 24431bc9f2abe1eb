package state

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// namespacePickle is Python's pickle.dumps({"epoch": 3, "args":
// argparse.Namespace(model="mae_vit_base_patch16", lr=None, blr=1e-3,
// epochs=400, norm_pix_loss=True, pin_mem=True)}, protocol=2): how MAE's
// checkpoints keep their arguments.
const namespacePickle = "\x80\x02}q\x00(X\x05\x00\x00\x00epochq\x01K\x03X\x04\x00\x00\x00argsq\x02cargparse\nNamespace\nq\x03)\x81q\x04}q\x05(X\x05\x00\x00\x00modelq\x06X\x14\x00\x00\x00mae_vit_base_patch16q\x07X\x02\x00\x00\x00lrq\x08NX\x03\x00\x00\x00blrq\tG?PbM\xd2\xf1\xa9\xfcX\x06\x00\x00\x00epochsq\nM\x90\x01X\r\x00\x00\x00norm_pix_lossq\x0b\x88X\x07\x00\x00\x00pin_memq\x0c\x88ubu."

// roundTripObject is an object using every kind of value EncodePTH writes.
func roundTripObject() (any, *Dict) {
	shared := &Tensor{Shape: []int{2, 3}, DType: F32, F32: []float32{1, -2, 3.5, float32(math.Inf(1)), 0, 1e-30}}
	sd := NewDict()
	sd.Set("a.weight", shared)
	sd.Set("a.tied", shared)
	sd.Set("bn.num_batches_tracked", &Tensor{Shape: []int{}, DType: I64, I64: []int64{7}})
	sd.Set("half", &Tensor{Shape: []int{3}, DType: F16, F32: []float32{0.5, -1, 65504}})
	sd.Set("double", &Tensor{Shape: []int{1, 2}, DType: F64, F32: []float32{math.Pi, -0.1}})
	sd.Set("empty", &Tensor{Shape: []int{0, 4}, DType: F32, F32: []float32{}})
	sd.Set("mask", &Tensor{Shape: []int{2, 1, 1}, DType: Bool, I64: []int64{1, 0}})
	sd.Set("i32", &Tensor{Shape: []int{2}, DType: I32, I64: []int64{math.MinInt32, math.MaxInt32}})
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	top := NewOrderedDict()
	top.Set("base_model", sd)
	top.Set("epoch", 300)
	top.Set("ints", []any{0, 255, 256, 65535, 65536, -1, math.MinInt32, math.MaxInt32, int64(math.MaxInt32) + 1,
		int64(math.MinInt64), uint64(math.MaxUint64), huge, int8(-5), uint16(9)})
	top.Set("floats", []any{1.5, float32(0.25), math.Inf(-1), math.Copysign(0, -1)})
	top.Set("tuples", []any{Tuple{}, Tuple{1}, Tuple{1, "two"}, Tuple{nil, true, false}, Tuple{1, 2, 3, 4, 5}})
	top.Set("metrics", map[string]any{"acc": 0.9, "b": "x"})
	top.Set("ünï", "ĉödé")
	top.Set(7, "int key")
	top.Set(nil, 1.0)
	top.Set("again", shared)
	return top, sd
}

func TestPTHRoundTrip(t *testing.T) {
	obj, sd := roundTripObject()
	var buf bytes.Buffer
	if err := EncodePTH(&buf, obj); err != nil {
		t.Fatal(err)
	}
	back, err := DecodePTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := StateDict(back, "base_model")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Keys, sd.Keys) {
		t.Fatalf("keys %v, want %v", got.Keys, sd.Keys)
	}
	for _, k := range sd.Keys {
		w, g := sd.Tensors[k], got.Tensors[k]
		wantF := w.F32
		if w.DType == F16 {
			wantF = []float32{0.5, -1, 65504}
		}
		if w.DType == F64 {
			wantF = []float32{float32(float64(float32(math.Pi))), -0.1}
		}
		if !slices.Equal(g.Shape, w.Shape) || g.DType != w.DType || !slices.Equal(g.F32, wantF) || !slices.Equal(g.I64, w.I64) {
			t.Errorf("%s: got %+v, want %+v", k, g, w)
		}
	}
	if got.Tensors["a.weight"] != got.Tensors["a.tied"] {
		t.Error("tied tensors were not read back as one")
	}
	if again := mustGet(t, back, "again"); again != got.Tensors["a.weight"] {
		t.Error("a tensor outside the state dict was not shared with it")
	}
	if e := mustGet(t, back, "epoch"); e != 300 {
		t.Errorf("epoch %v", e)
	}
	ints := mustGet(t, back, "ints").([]any)
	want := []string{"0", "255", "256", "65535", "65536", "-1", "-2147483648", "2147483647", "2147483648",
		"-9223372036854775808", "18446744073709551615", "-123456789012345678901234567890", "-5", "9"}
	for i, v := range ints {
		var s string
		switch x := v.(type) {
		case int:
			s = big.NewInt(int64(x)).String()
		case *big.Int:
			s = x.String()
		default:
			t.Fatalf("int %d read as %T", i, v)
		}
		if s != want[i] {
			t.Errorf("int %d = %s, want %s", i, s, want[i])
		}
	}
	floats := mustGet(t, back, "floats").([]any)
	if floats[0] != 1.5 || floats[1] != 0.25 || floats[2] != math.Inf(-1) || !math.Signbit(floats[3].(float64)) {
		t.Errorf("floats %v", floats)
	}
	tuples := mustGet(t, back, "tuples").([]any)
	for i, n := range []int{0, 1, 2, 3, 5} {
		if l := len(tuples[i].([]any)); l != n {
			t.Errorf("tuple %d has %d items, want %d", i, l, n)
		}
	}
	if tp := tuples[3].([]any); tp[0] != nil || tp[1] != true || tp[2] != false {
		t.Errorf("tuple %v", tp)
	}
	m := mustGet(t, back, "metrics").(*OrderedDict)
	if k := m.Keys(); len(k) != 2 || k[0] != "acc" || k[1] != "b" {
		t.Errorf("map keys %v, want sorted", k)
	}
	if mustGet(t, back, "ünï") != "ĉödé" || mustGet(t, back, 7) != "int key" || mustGet(t, back, nil) != 1.0 {
		t.Error("str, int or None keys differ")
	}
}

// TestPTHLayout: torch's record names and order, 64-byte aligned stored
// records, the same bytes every time, and no temporary left beside the
// file.
func TestPTHLayout(t *testing.T) {
	obj, _ := roundTripObject()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.pth")
	if err := WritePTH(path, obj); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := EncodePTH(&again, obj); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again.Bytes()) {
		t.Error("two writes of one object differ")
	}
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if off%64 != 0 || f.Method != zip.Store {
			t.Errorf("%s: data at %d, method %d", f.Name, off, f.Method)
		}
		rc, err := f.Open() // checks the CRC
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bytes.NewBuffer(nil).ReadFrom(rc); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
	want := []string{"archive/data.pkl", "archive/byteorder"}
	for i := range 7 { // 8 tensors, two of them one
		want = append(want, "archive/data/"+string(rune('0'+i)))
	}
	want = append(want, "archive/version")
	if !slices.Equal(names, want) {
		t.Errorf("records %v, want %v", names, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d files", len(entries))
	}
}

// TestPTHLargeDict: more than 1000 entries (SETITEMS in batches) and more
// than 256 memoized names (LONG_BINPUT) read back.
func TestPTHLargeDict(t *testing.T) {
	sd := NewDict()
	for i := range 2500 {
		dt := []DType{F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool}[i%10]
		ts := &Tensor{Shape: []int{1}, DType: dt}
		if dt.IsFloat() {
			ts.F32 = []float32{float32(i % 7)}
		} else {
			ts.I64 = []int64{int64(i % 2)}
		}
		sd.Set("k"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+big.NewInt(int64(i)).String(), ts)
	}
	var buf bytes.Buffer
	if err := EncodePTH(&buf, sd); err != nil {
		t.Fatal(err)
	}
	back, err := DecodePTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := StateDict(back, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Keys, sd.Keys) {
		t.Fatal("keys differ")
	}
	for _, k := range sd.Keys {
		w, g := sd.Tensors[k], got.Tensors[k]
		if g.DType != w.DType || !slices.Equal(g.F32, w.F32) || !slices.Equal(g.I64, w.I64) {
			t.Fatalf("%s: %+v, want %+v", k, g, w)
		}
	}
}

func TestPTHWriteErrors(t *testing.T) {
	self := NewOrderedDict()
	self.Set("me", self)
	list := []any{1}
	deep := any("leaf")
	for range 300 {
		deep = []any{deep}
	}
	badDict := NewDict()
	badDict.Set("w", &Tensor{Shape: []int{2}, DType: F32, F32: []float32{1}})
	unkeyed := NewOrderedDict()
	unkeyed.Set("k", 1)
	unkeyed.keys[0] = list // a key Python cannot hash
	for name, obj := range map[string]any{
		"chan":       make(chan int),
		"tensor":     map[string]any{"t": &Tensor{Shape: []int{3}, DType: F32, F32: []float32{1}}},
		"int range":  map[string]any{"t": &Tensor{Shape: []int{1}, DType: U8, I64: []int64{256}}},
		"not utf-8":  []any{"\xff"},
		"cycle":      self,
		"deep":       deep,
		"bad dict":   badDict,
		"list key":   unkeyed,
		"bytes":      []byte{1},
		"nil tensor": []any{(*Tensor)(nil)},
	} {
		path := filepath.Join(t.TempDir(), "x.pth")
		err := WritePTH(path, obj)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("%s: a file was written", name)
		}
	}
}

// TestReadPTHNamespace: an argparse.Namespace, as MAE saves its arguments,
// reads as inert data; malformed ones are errors.
func TestReadPTHNamespace(t *testing.T) {
	b := ckpt(t, []byte(namespacePickle), nil)
	obj, err := DecodePTH(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	ns, ok := mustGet(t, obj, "args").(*Namespace)
	if !ok {
		t.Fatalf("args read as %T", mustGet(t, obj, "args"))
	}
	if v, _ := ns.Attrs.Get("model"); v != "mae_vit_base_patch16" {
		t.Errorf("model = %v", v)
	}
	if v, ok := ns.Attrs.Get("lr"); !ok || v != nil {
		t.Errorf("lr = %v", v)
	}
	if v, _ := ns.Attrs.Get("epochs"); v != 400 {
		t.Errorf("epochs = %v", v)
	}
	if ns.Attrs.Len() != 6 {
		t.Errorf("%d attributes", ns.Attrs.Len())
	}

	var p pk // no BUILD: an empty namespace
	p.op('\x80', '\x02').global("argparse", "Namespace").op(')', '\x81', '.')
	b = ckpt(t, p.Bytes(), nil)
	if obj, err := DecodePTH(bytes.NewReader(b), int64(len(b))); err != nil || obj.(*Namespace).Attrs.Len() != 0 {
		t.Errorf("empty namespace: %v, %v", obj, err)
	}
	for name, pickle := range map[string]func(p *pk){
		"state not a dict": func(p *pk) { p.global("argparse", "Namespace").op(')', '\x81').int(1).op('b', '.') },
		"int attribute":    func(p *pk) { p.global("argparse", "Namespace").op(')', '\x81', '}').int(1).int(2).op('s', 'b', '.') },
		"built twice":      func(p *pk) { p.global("argparse", "Namespace").op(')', '\x81', '}', 'b', '}', 'b', '.') },
		"arguments":        func(p *pk) { p.global("argparse", "Namespace").int(1).op('\x85', '\x81', '.') },
		"called":           func(p *pk) { p.global("argparse", "Namespace").op(')', 'R', '.') },
		"the class":        func(p *pk) { p.global("argparse", "Namespace").op('.') },
		"other argparse":   func(p *pk) { p.global("argparse", "ArgumentParser").op(')', '\x81', '.') },
		"contains itself": func(p *pk) {
			p.global("argparse", "Namespace").op(')', '\x81', 'q', 0, '}').str("me").op('h', 0, 's', 'b', '.')
		},
	} {
		var p pk
		p.op('\x80', '\x02')
		pickle(&p)
		b := ckpt(t, p.Bytes(), nil)
		if _, err := DecodePTH(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// torchCheck is the verdict file of scripts/golden_pretrain_ckpt.py --check.
const torchCheck = "../../testdata/golden/pretrain_ckpt_check.json"

// exportEnv names the folder into which the golden tests write their files
// for the script (goldentest.ExportDirEnv).
const exportEnv = "PCX_GOLDEN_EXPORT"

// describe writes v as the JSON the script compares torch.load's result
// with: tensors as {"__tensor__": {dtype, shape, data}}, tuples as
// {"__tuple__": [...]}, dicts with their keys in order.
func describe(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case *Tensor:
		data := []byte("[")
		if x.DType.IsFloat() {
			for i, f := range x.F32 {
				if i > 0 {
					data = append(data, ',')
				}
				data = strconv.AppendFloat(data, float64(f), 'g', -1, 32)
			}
		} else {
			for i, n := range x.I64 {
				if i > 0 {
					data = append(data, ',')
				}
				if x.DType == Bool {
					data = strconv.AppendBool(data, n != 0)
				} else {
					data = strconv.AppendInt(data, n, 10)
				}
			}
		}
		data = append(data, ']')
		shape, _ := json.Marshal(x.Shape)
		fmt.Fprintf(b, `{"__tensor__":{"dtype":%q,"shape":%s,"data":%s}}`, x.DType, shape, data)
	case *Dict:
		b.WriteByte('{')
		for i, k := range x.Keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kj, _ := json.Marshal(k)
			b.Write(kj)
			b.WriteByte(':')
			describe(b, x.Tensors[k])
		}
		b.WriteByte('}')
	case *OrderedDict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kj, _ := json.Marshal(k.(string))
			b.Write(kj)
			b.WriteByte(':')
			describe(b, x.values[i])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			describe(b, e)
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteString(`{"__tuple__":`)
		describe(b, []any(x))
		b.WriteByte('}')
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0" // a float, not an int, in Python's json
		}
		b.WriteString(s)
	default:
		j, err := json.Marshal(x)
		if err != nil {
			panic(err)
		}
		b.Write(j)
	}
}

// goldenObject is what TestGoldenPTHTorch writes: a state dict of every
// element type, shared and empty tensors, and plain values (with floats
// unless weightsOnly).
func goldenObject(weightsOnly bool) *OrderedDict {
	shared := &Tensor{Shape: []int{2, 3}, DType: F32, F32: []float32{1, -2, 3.5, 1e-30, 0, 65504}}
	sd := NewDict()
	sd.Set("blocks.0.attn.qkv.weight", shared)
	sd.Set("head.weight", shared)
	sd.Set("norm.bias", &Tensor{Shape: []int{3}, DType: F32, F32: []float32{0.1, 0.2, -0.3}})
	sd.Set("bn.num_batches_tracked", &Tensor{Shape: []int{}, DType: I64, I64: []int64{7}})
	sd.Set("half", &Tensor{Shape: []int{3}, DType: F16, F32: []float32{0.5, -1, 65504}})
	sd.Set("double", &Tensor{Shape: []int{1, 2}, DType: F64, F32: []float32{0.25, -0.125}})
	sd.Set("empty", &Tensor{Shape: []int{0, 4}, DType: F32, F32: []float32{}})
	sd.Set("mask", &Tensor{Shape: []int{2, 1, 1}, DType: Bool, I64: []int64{1, 0}})
	sd.Set("scalar", &Tensor{Shape: []int{}, DType: F32, F32: []float32{-2.5}})
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	top := NewOrderedDict()
	top.Set("base_model", sd)
	top.Set("epoch", 300)
	top.Set("ints", []any{0, 255, 256, 65535, 65536, -1, math.MinInt32, math.MaxInt32, int64(math.MaxInt32) + 1,
		int64(math.MinInt64), huge})
	top.Set("tuples", []any{Tuple{}, Tuple{1}, Tuple{1, "two"}, Tuple{nil, true, false}, Tuple{1, 2, 3, 4, 5}})
	top.Set("ünï", "ĉödé")
	inner := NewOrderedDict()
	inner.Set("again", shared)
	inner.Set("none", nil)
	top.Set("nested", inner)
	if !weightsOnly {
		top.Set("metrics", NewOrderedDict())
		top.Set("floats", []any{1.5, 0.25, -3.0, 1e300})
	}
	return top
}

// TestGoldenPTHTorch: torch.load (Debian's torch 1.13) reads the files
// EncodePTH writes, byte for byte these, without a warning and with the
// values written; with weights_only=True too when they hold no float
// (torch 1.13's restricted unpickler has no BINFLOAT).
func TestGoldenPTHTorch(t *testing.T) {
	for _, wo := range []bool{false, true} {
		name := "pth_values"
		if wo {
			name = "pth_weights_only"
		}
		obj := goldenObject(wo)
		var buf bytes.Buffer
		if err := EncodePTH(&buf, obj); err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv(exportEnv); dir != "" {
			var side bytes.Buffer
			fmt.Fprintf(&side, `{"kind":"values","weights_only":%v,"value":`, wo)
			describe(&side, obj)
			side.WriteByte('}')
			if err := os.WriteFile(filepath.Join(dir, name+".pth"), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+".json"), side.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var f struct {
			Files map[string]struct {
				SHA256      string   `json:"sha256"`
				OK          bool     `json:"ok"`
				Equal       bool     `json:"values_equal"`
				Warnings    []string `json:"warnings"`
				WeightsOnly bool     `json:"weights_only_ok"`
				WOError     string   `json:"weights_only_error"`
				Error       string   `json:"error"`
			} `json:"files"`
		}
		raw, err := os.ReadFile(torchCheck)
		if err == nil {
			err = json.Unmarshal(raw, &f)
		}
		const redo = "; regenerate: " + exportEnv + "=DIR go test ./nn/state ./pretrain -run GoldenPTH -count=1 && /usr/bin/python3 scripts/golden_pretrain_ckpt.py --check DIR"
		if err != nil {
			t.Fatalf("%v%s", err, redo)
		}
		v, ok := f.Files[name]
		if !ok {
			t.Fatalf("%s has no file %s%s", torchCheck, name, redo)
		}
		sum := sha256.Sum256(buf.Bytes())
		if got := hex.EncodeToString(sum[:]); got != v.SHA256 {
			t.Errorf("%s: EncodePTH now writes SHA-256 %s, not the %s PyTorch checked%s", name, got, v.SHA256, redo)
		}
		if !v.OK || !v.Equal || len(v.Warnings) != 0 || v.WeightsOnly != wo {
			t.Errorf("%s: PyTorch's verdict: ok %v, values equal %v, warnings %q, weights_only %v (%s), error %q",
				name, v.OK, v.Equal, v.Warnings, v.WeightsOnly, v.WOError, v.Error)
		}
		if !wo && !strings.Contains(v.WOError, "Unsupported operand 71") { // 'G', BINFLOAT
			t.Logf("%s: weights_only refused it with %q", name, v.WOError)
		}
	}
}
