package state

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
)

func mustGet(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch x := v.(type) {
		case *OrderedDict:
			var ok bool
			if v, ok = x.Get(k); !ok {
				t.Fatalf("no key %v in dict with keys %v", k, x.Keys())
			}
		case []any:
			v = x[k.(int)]
		default:
			t.Fatalf("cannot index a %T with %v", v, k)
		}
	}
	return v
}

// TestReadPTHFixtures reads the checkpoints torch.save wrote (zip, legacy
// and zip with pickle protocol 4) and checks every tensor and value.
func TestReadPTHFixtures(t *testing.T) {
	exp := loadExpected(t).PointMAE
	for _, name := range []string{"pointmae.pth", "pointmae_legacy.pth", "pointmae_proto4.pth"} {
		t.Run(name, func(t *testing.T) {
			obj, err := ReadPTH(filepath.Join(fixtures, name))
			if err != nil {
				t.Fatal(err)
			}
			top := obj.(*OrderedDict)
			var keys []string
			for _, k := range top.Keys() {
				keys = append(keys, k.(string))
			}
			if !slices.Equal(keys, exp.TopKeys) {
				t.Errorf("top-level keys %v, want %v", keys, exp.TopKeys)
			}
			d, err := StateDict(obj, "base_model")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Keys, exp.BaseModelKeys) {
				t.Errorf("keys %v,\nwant %v", d.Keys, exp.BaseModelKeys)
			}
			if len(d.Tensors) != len(exp.BaseModel) {
				t.Errorf("%d tensors, want %d", len(d.Tensors), len(exp.BaseModel))
			}
			for k, want := range exp.BaseModel {
				checkTensor(t, k, d.Tensors[k], want)
			}
			checkTensor(t, "exp_avg", mustGet(t, obj, "optimizer", "state", 0, "exp_avg").(*Tensor), exp.ExpAvg)
			checkTensor(t, "step", mustGet(t, obj, "optimizer", "state", 0, "step").(*Tensor), exp.Step)
			if lr := mustGet(t, obj, "optimizer", "param_groups", 0, "lr"); lr != exp.LR {
				t.Errorf("lr = %#v, want %v", lr, exp.LR)
			}
			betas := mustGet(t, obj, "optimizer", "param_groups", 0, "betas").([]any)
			if len(betas) != 2 || betas[0] != exp.Betas[0] || betas[1] != exp.Betas[1] {
				t.Errorf("betas = %v, want %v", betas, exp.Betas)
			}
			if p := mustGet(t, obj, "optimizer", "param_groups", 0, "params").([]any); len(p) != 1 || p[0] != 0 {
				t.Errorf("params = %v", p)
			}
			for _, c := range []struct {
				path []any
				want any
			}{
				{[]any{"epoch"}, exp.Epoch},
				{[]any{"metrics", "acc"}, exp.MetricsAcc},   // numpy float64
				{[]any{"best_metrics", "acc"}, exp.BestAcc}, // numpy float32
				{[]any{"best_metrics", "n"}, exp.BestN},     // numpy int64
			} {
				if got := mustGet(t, obj, c.path...); got != c.want {
					t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
				}
			}
		})
	}
}

// TestReadPTHPlainStateDict reads a real nn.Module state_dict() saved at the
// top level, an OrderedDict with _metadata.
func TestReadPTHPlainStateDict(t *testing.T) {
	exp := loadExpected(t).PlainState
	obj, err := ReadPTH(filepath.Join(fixtures, "plain_state.pth"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := StateDict(obj, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Keys, exp.Keys) {
		t.Errorf("keys %v, want %v", d.Keys, exp.Keys)
	}
	for k, want := range exp.Tensors {
		checkTensor(t, k, d.Tensors[k], want)
	}
}

func TestStateDictErrors(t *testing.T) {
	obj, err := ReadPTH(filepath.Join(fixtures, "pointmae.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		obj  any
		key  string
		want string
	}{
		{obj, "model", `no key "model"; its keys are "base_model", "optimizer"`},
		{obj, "epoch", `checkpoint["epoch"] is an int, not a dict`},
		{obj, "", `entry "base_model" is a dict, not a tensor (is the state dict under one of the keys "base_model"`},
		{obj, "metrics", `entry "acc" is a float, not a tensor`},
		{3, "", "checkpoint is an int, not a dict"},
	} {
		_, err := StateDict(c.obj, c.key)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("StateDict(%q) error %v, want %q", c.key, err, c.want)
		}
	}
}

func TestStripPrefixes(t *testing.T) {
	obj, err := ReadPTH(filepath.Join(fixtures, "pointmae.pth"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := StateDict(obj, "base_model")
	if err != nil {
		t.Fatal(err)
	}
	before := d.Tensors["module.MAE_encoder.norm.weight"]
	if err := StripPrefixes(d, "MAE_encoder.", "base_model."); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"blocks.blocks.0.attn.qkv.weight", "blocks.blocks.0.attn.qkv.bias", "blocks.blocks.0.attn.proj.weight",
		"norm.weight", "norm.bias", "pos_embed.0.weight", "pos_embed.0.bias", "reduce_dim.weight",
		"encoder.first_conv.1.num_batches_tracked", "encoder.first_conv.1.running_mean", "cls_token",
		"cls_head_finetune.0.weight", "mask_ratio", "group_size", "empty",
	}
	if !slices.Equal(d.Keys, want) {
		t.Errorf("keys %v,\nwant %v", d.Keys, want)
	}
	if d.Tensors["norm.weight"] != before || len(d.Tensors) != len(want) {
		t.Error("tensors not carried over")
	}

	// Only the first matching prefix goes, and only at the start.
	d = NewDict()
	for _, k := range []string{"module.base_model.MAE_encoder.x", "submodule.y", "a.MAE_encoder.z"} {
		d.Set(k, &Tensor{DType: F32, F32: []float32{1}})
	}
	if err := StripPrefixes(d, "base_model.", "MAE_encoder."); err != nil {
		t.Fatal(err)
	}
	if want := []string{"MAE_encoder.x", "suby", "a.MAE_encoder.z"}; !slices.Equal(d.Keys, want) {
		t.Errorf("keys %v, want %v", d.Keys, want)
	}

	// Collisions leave the dict alone.
	d = NewDict()
	d.Set("module.a", &Tensor{DType: F32, F32: []float32{1}})
	d.Set("a", &Tensor{DType: F32, F32: []float32{2}})
	if err := StripPrefixes(d); err == nil || !strings.Contains(err.Error(), `"module.a" and "a" both become "a"`) {
		t.Errorf("collision error %v", err)
	}
	if !slices.Equal(d.Keys, []string{"module.a", "a"}) {
		t.Errorf("dict changed to %v", d.Keys)
	}
	if err := StripPrefixes(d, "a"); err == nil || !strings.Contains(err.Error(), "leaves nothing") {
		t.Errorf("empty-name error %v", err)
	}
}

// TestReadPTHViews checks views built by hand: a shared tensor, a strided
// view with an offset, stride 0.
func TestReadPTHViews(t *testing.T) {
	var p pk
	p.op('\x80', '\x02', '}', '(')
	p.str("t").op('(').tensor("FloatStorage", "0", 6, 1, []int{2, 2}, []int{1, 3}).op('q', 0, 'h', 0, 'l')
	p.str("bcast").tensor("FloatStorage", "0", 6, 5, []int{3}, []int{0})
	p.op('u', '.')
	data := ckpt(t, p.Bytes(), map[string][]byte{"data/0": f32bytes(0, 1, 2, 3, 4, 5)})
	obj, err := ReadPTH(writeTemp(t, "views.pth", data))
	if err != nil {
		t.Fatal(err)
	}
	pair := mustGet(t, obj, "t").([]any)
	a, b := pair[0].(*Tensor), pair[1].(*Tensor)
	if a != b {
		t.Error("a tensor referenced twice became two tensors")
	}
	if !slices.Equal(a.F32, []float32{1, 4, 2, 5}) {
		t.Errorf("strided view = %v", a.F32)
	}
	if c := mustGet(t, obj, "bcast").(*Tensor); !slices.Equal(c.F32, []float32{5, 5, 5}) {
		t.Errorf("stride-0 view = %v", c.F32)
	}
}

// TestReadPTHErrors feeds bad checkpoints; each error must name the file
// and the problem.
func TestReadPTHErrors(t *testing.T) {
	tensorDict := func(class, key string, numel, offset int, size, stride []int) []byte {
		var p pk
		p.op('\x80', '\x02', '}').str("w").tensor(class, key, numel, offset, size, stride).op('s', '.')
		return p.Bytes()
	}
	good := tensorDict("FloatStorage", "0", 4, 0, []int{4}, []int{1})
	four := map[string][]byte{"data/0": f32bytes(1, 2, 3, 4)}
	var deep pk
	deep.op('\x80', '\x02')
	for range 300 {
		deep.op(']')
	}
	for range 299 {
		deep.op('a')
	}
	deep.op('.')
	var twoTypes pk
	twoTypes.op('\x80', '\x02', '}', '(').str("w").tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1})
	twoTypes.str("v").tensor("IntStorage", "0", 4, 0, []int{4}, []int{1}).op('u', '.')
	zipWith := func(extra string, data []byte) []byte {
		var buf bytes.Buffer
		z := zip.NewWriter(&buf)
		for name, b := range map[string][]byte{"m/data.pkl": good, "m/data/0": four["data/0"], extra: data} {
			w, _ := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
			w.Write(b)
		}
		z.Close()
		return buf.Bytes()
	}
	var nb bytes.Buffer
	nz := zip.NewWriter(&nb)
	nz.Create("archive/data/0")
	nz.Close()
	noPickle := nb.Bytes()
	legacy := func(count uint64, body []byte) []byte {
		var p pk
		p.op('\x80', '\x02', '\x8a', '\x0a', 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.')
		p.op('\x80', '\x02', 'M', 0xe9, 0x03, '.')
		p.op('\x80', '\x02', '}', '.')
		var obj pk
		obj.op('\x80', '\x02', '}').str("w")
		obj.global("torch._utils", "_rebuild_tensor_v2").op('(')
		obj.op('(').str("storage").global("torch", "FloatStorage").str("k").str("cpu").int(4).op('N', 't', 'Q')
		obj.int(0).tuple(4).tuple(1).op('\x89').global("collections", "OrderedDict").op(')', 'R', 't', 'R', 's', '.')
		p.Write(obj.Bytes())
		p.op('\x80', '\x02', ']').str("k").op('a', '.')
		p.Write([]byte{byte(count), 0, 0, 0, 0, 0, 0, 0})
		p.Write(body)
		return p.Bytes()
	}
	fixture := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"malicious fixture", fixture("malicious.pth"), "forbidden global os.system"},
		{"truncated zip fixture", fixture("truncated.pth"), "zip archive is truncated or damaged"},
		{"truncated legacy fixture", fixture("truncated_legacy.pth"), "file is truncated"},
		{"eval by STACK_GLOBAL", ckpt(t, []byte("\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x8c\x011\x85R."), nil),
			"forbidden global builtins.eval"},
		{"os.system from memo", ckpt(t, []byte("\x80\x04\x8c\x02os\x94\x8c\x06system\x940\x30h\x00h\x01\x93N\x85R."), nil),
			"forbidden global os.system"},
		{"INST opcode", ckpt(t, []byte("(S'ls'\nios\nsystem\n."), nil), "forbidden global os.system"},
		{"copy_reg reconstructor", ckpt(t, []byte("ccopy_reg\n_reconstructor\n."), nil), "forbidden global copy_reg._reconstructor"},
		{"numpy array", ckpt(t, []byte("cnumpy.core.multiarray\n_reconstruct\n."), nil), "forbidden global numpy.core.multiarray._reconstruct"},
		{"storage too short", ckpt(t, tensorDict("FloatStorage", "0", 4, 0, []int{10}, []int{1}), four),
			`"w": tensor of size [10], stride [1] at offset 0 needs 10 elements but storage "0" has only 4`},
		{"offset beyond storage", ckpt(t, tensorDict("FloatStorage", "0", 4, 2, []int{2, 2}, []int{1, 1}), four),
			"needs 5 elements but storage"},
		{"transposed view too wide", ckpt(t, tensorDict("FloatStorage", "0", 4, 0, []int{2, 3}, []int{1, 2}), four),
			"needs 6 elements"},
		{"record shorter than storage", ckpt(t, tensorDict("FloatStorage", "0", 8, 0, []int{4}, []int{1}), four),
			`storage "0" of 8 F32 needs 32 bytes but "archive/data/0" has 16`},
		{"missing record", ckpt(t, tensorDict("FloatStorage", "9", 4, 0, []int{4}, []int{1}), four), `storage "9": the archive has no record of it under data/`},
		{"storage used twice differently", ckpt(t, twoTypes.Bytes(), four), `storage "0" is used as 4 F32 and as 4 I32`},
		{"bool byte 2", ckpt(t, tensorDict("BoolStorage", "0", 4, 0, []int{4}, []int{1}), map[string][]byte{"data/0": {0, 1, 2, 0}}),
			"BOOL element 2 is 0x02, not 0 or 1"},
		{"stride-0 amplification", ckpt(t, tensorDict("FloatStorage", "0", 4, 0, []int{1 << 20, 1 << 20}, []int{0, 0}), four),
			"far more elements than its storages"},
		{"self-referencing list", ckpt(t, []byte("\x80\x02]q\x00h\x00a."), nil), "a list contains itself"},
		{"deep nesting", ckpt(t, deep.Bytes(), nil), "nested more than 256 deep"},
		{"bare storage", ckpt(t, []byte("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQ."), four),
			"unsupported value: a bare storage"},
		{"set", ckpt(t, []byte("\x80\x04\x8f."), nil), "unsupported value: a set"},
		{"bytes key", ckpt(t, []byte("\x80\x03ccollections\nOrderedDict\n)RC\x01aK\x01s."), nil), "bytes as a dict key"},
		{"bytes in a frozenset", ckpt(t, []byte("\x80\x04(C\x01a\x94h\x00\x91."), nil), "bytes as a dict key or set member"},
		{"unknown opcode", ckpt(t, []byte("\x80\x02\xff."), nil), "opcode 0xff at byte 2: unknown opcode"},
		{"zero-length long", ckpt(t, []byte("\x80\x02\x8a\x00."), nil), "unsupported 0-byte long integer"},
		{"string past the end", ckpt(t, []byte("\x80\x02X\xff\xff\xff\x00ab."), nil), "pickle is truncated"},
		{"frame past the end", ckpt(t, []byte("\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N."), nil), "pickle is truncated"},
		{"odd dict", ckpt(t, []byte("\x80\x02(K\x01d."), nil), "DICT with an odd number of items"},
		{"stack underflow", ckpt(t, []byte("\x80\x02a."), nil), "stack underflow"},
		{"no STOP", ckpt(t, []byte("\x80\x02N"), nil), "pickle is truncated"},
		{"bytes after STOP", ckpt(t, append(slices.Clone(good), 'N'), four), "1 bytes after the pickle's STOP"},
		{"no data.pkl", noPickle, "zip archive has no <dir>/data.pkl"},
		{"TorchScript", zipWith("m/constants.pkl", []byte("x")), "TorchScript archive"},
		{"big-endian", zipWith("m/byteorder", []byte("big")), `byte order "big" is not supported`},
		{"legacy magic", []byte("\x80\x02K\x05."), "does not start with PyTorch's magic number"},
		{"plain text", []byte("hello, world"), "not a PyTorch checkpoint"},
		{"legacy count mismatch", legacy(3, f32bytes(1, 2, 3, 4)), `storage "k" at byte 185 has 3 elements, the pickle says 4`},
		{"legacy storage truncated", legacy(4, f32bytes(1, 2, 3)), "needs 16 bytes but the file has 12 left: file is truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "bad.pth", c.data)
			_, err := ReadPTH(path)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant the path and %q", err, c.want)
			}
		})
	}
	// The legacy builder itself makes a valid file.
	obj, err := DecodePTH(bytes.NewReader(legacy(4, f32bytes(1, 2, 3, 4))), int64(len(legacy(4, nil))+16))
	if err != nil {
		t.Fatal(err)
	}
	if w := mustGet(t, obj, "w").(*Tensor); !slices.Equal(w.F32, []float32{1, 2, 3, 4}) {
		t.Errorf("legacy tensor %v", w.F32)
	}
}

func TestForbiddenGlobalIs(t *testing.T) {
	_, err := ReadPTH(filepath.Join(fixtures, "malicious.pth"))
	if !errors.Is(err, ErrForbiddenGlobal) {
		t.Errorf("error %v does not wrap ErrForbiddenGlobal", err)
	}
}

// TestAllowedGlobalsResolve checks that every allowed global has a Go
// implementation and every other is refused.
func TestAllowedGlobalsResolve(t *testing.T) {
	l := &loader{}
	names := []string{"torch.FloatStorage", "torch.BoolStorage"}
	for n := range otherGlobals {
		names = append(names, n)
	}
	for _, n := range names {
		i := strings.LastIndexByte(n, '.')
		v, err := l.findClass(n[:i], n[i+1:])
		if err != nil || v == nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	for _, n := range [][2]string{{"os", "system"}, {"builtins", "eval"}, {"torch", "load"}, {"torch", "Storage"}, {"__builtin__", "object"}} {
		if _, err := l.findClass(n[0], n[1]); !errors.Is(err, ErrForbiddenGlobal) {
			t.Errorf("%s.%s allowed", n[0], n[1])
		}
	}
}

// TestReadPTHDeflated reads a checkpoint whose records were compressed, as
// after re-zipping it with a common tool.
func TestReadPTHDeflated(t *testing.T) {
	var p pk
	p.op('\x80', '\x02', '}').str("w").tensor("HalfStorage", "0", 3, 0, []int{3}, []int{1}).op('s', '.')
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for name, data := range map[string][]byte{"x/data.pkl": p.Bytes(), "x/data/0": {0, 0x3c, 0, 0xc0, 0, 0x7c}} {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	z.Close()
	obj, err := DecodePTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	w := mustGet(t, obj, "w").(*Tensor)
	if w.DType != F16 || w.F32[0] != 1 || w.F32[1] != -2 || w.F32[2] < 1e38 {
		t.Errorf("got %v %v", w.DType, w.F32)
	}
}

// TestReadPTHLegacyView reads a legacy persistent id with view metadata
// (view key, element offset, element count), as torch < 1.0 wrote.
func TestReadPTHLegacyView(t *testing.T) {
	var p pk
	p.op('\x80', '\x02', '\x8a', '\x0a', 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.')
	p.op('\x80', '\x02', 'M', 0xe9, 0x03, '.', '\x80', '\x02', '}', '.')
	p.op('\x80', '\x02').global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", "LongStorage").str("k").str("cpu").int(4)
	p.op('(').str("v").int(1).int(2).op('t', 't', 'Q')
	p.int(1).tuple(1).tuple(1).op('\x89').global("collections", "OrderedDict").op(')', 'R', 't', 'R', '.')
	p.op('\x80', '\x02', ']').str("k").op('a', '.')
	p.Write([]byte{4, 0, 0, 0, 0, 0, 0, 0})
	for _, v := range []byte{10, 20, 30, 40} {
		p.Write([]byte{v, 0, 0, 0, 0, 0, 0, 0})
	}
	obj, err := DecodePTH(bytes.NewReader(p.Bytes()), int64(p.Len()))
	if err != nil {
		t.Fatal(err)
	}
	// The view starts at element 1 of the storage; the tensor at element 1
	// of the view.
	if w := obj.(*Tensor); !slices.Equal(w.I64, []int64{30}) || !slices.Equal(w.Shape, []int{1}) {
		t.Errorf("got %v %v", w.Shape, w.I64)
	}
}

func TestNumpyScalar(t *testing.T) {
	scalar := func(code string, order string, raw ...byte) (any, error) {
		d, err := numpyDType([]any{code, false, true})
		if err != nil {
			return nil, err
		}
		state := types.Tuple{3, order, nil, nil, nil, -1, -1, 0}
		if err := d.(*numpyDTypeValue).PySetState(&state); err != nil {
			return nil, err
		}
		return numpyScalar([]any{d, raw})
	}
	for _, c := range []struct {
		code, order string
		raw         []byte
		want        any
	}{
		{"f8", "<", []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x3f}, 1.5},
		{"f8", ">", []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, 1.5},
		{"f4", "<", []byte{0, 0, 0xc0, 0x3f}, 1.5},
		{"f2", "<", []byte{0, 0x3e}, 1.5},
		{"i1", "|", []byte{0xfe}, -2},
		{"i2", ">", []byte{0xff, 0xfe}, -2},
		{"i8", "<", []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, -2},
		{"u2", "<", []byte{0xfe, 0xff}, 65534},
		{"b1", "|", []byte{1}, true},
	} {
		got, err := scalar(c.code, c.order, c.raw...)
		if err != nil || got != c.want {
			t.Errorf("%s%s %v = %#v, %v; want %#v", c.order, c.code, c.raw, got, err, c.want)
		}
	}
	for _, c := range []struct {
		code string
		raw  []byte
		want string
	}{
		{"u8", []byte{0, 0, 0, 0, 0, 0, 0, 0x80}, "does not fit an int"},
		{"f8", []byte{0}, "f8 scalar given 1 bytes"},
		{"c16", nil, `unsupported numpy type "c16"`},
		{"U5", nil, `unsupported numpy type "U5"`},
	} {
		if _, err := scalar(c.code, "<", c.raw...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.code, err, c.want)
		}
	}
}
