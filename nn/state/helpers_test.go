package state

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const fixtures = "../../testdata/state"

// expTensor is a tensor as fixtures_state.py describes it in expected.json.
type expTensor struct {
	DType string    `json:"dtype"`
	Shape []int     `json:"shape"`
	F32   []float64 `json:"f32"`
	I64   []int64   `json:"i64"`
}

type expected struct {
	PointMAE struct {
		BaseModel     map[string]expTensor `json:"base_model"`
		BaseModelKeys []string             `json:"base_model_keys"`
		ExpAvg        expTensor            `json:"exp_avg"`
		Step          expTensor            `json:"step"`
		LR            float64              `json:"lr"`
		Betas         []float64            `json:"betas"`
		Epoch         int                  `json:"epoch"`
		MetricsAcc    float64              `json:"metrics_acc"`
		BestAcc       float64              `json:"best_acc"`
		BestN         int                  `json:"best_n"`
		TopKeys       []string             `json:"top_keys"`
	} `json:"pointmae"`
	PlainState struct {
		Keys    []string             `json:"keys"`
		Tensors map[string]expTensor `json:"tensors"`
	} `json:"plain_state"`
	HandSafetensors struct {
		Keys     []string             `json:"keys"`
		Metadata map[string]string    `json:"metadata"`
		Tensors  map[string]expTensor `json:"tensors"`
	} `json:"hand_safetensors"`
}

func loadExpected(t *testing.T) *expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// checkTensor compares a decoded tensor with its description, exactly.
func checkTensor(t *testing.T, name string, got *Tensor, want expTensor) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: missing", name)
		return
	}
	if got.DType.String() != want.DType {
		t.Errorf("%s: dtype %v, want %s", name, got.DType, want.DType)
	}
	if !slices.Equal(got.Shape, want.Shape) || got.Shape == nil {
		t.Errorf("%s: shape %v, want %v", name, got.Shape, want.Shape)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	if want.F32 != nil || got.DType.IsFloat() {
		if len(got.F32) != len(want.F32) {
			t.Errorf("%s: %d values, want %d", name, len(got.F32), len(want.F32))
			return
		}
		for i, w := range want.F32 {
			if math.Float32bits(got.F32[i]) != math.Float32bits(float32(w)) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got.F32[i], float32(w))
			}
		}
		return
	}
	if !slices.Equal(got.I64, want.I64) || len(got.I64) != len(want.I64) {
		t.Errorf("%s: values %v, want %v", name, got.I64, want.I64)
	}
}

// writeTemp writes data to a file in a test's temporary directory.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pk builds pickles by hand, opcode by opcode.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int) *pk {
	p.WriteByte('J')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(n))))
	return p
}

func (p *pk) global(module, name string) *pk {
	p.WriteString("c" + module + "\n" + name + "\n")
	return p
}

func (p *pk) tuple(ns ...int) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}

// tensor appends torch's pickle of a tensor: _rebuild_tensor_v2 of a
// persistent storage (class, key, numel) with offset, size and stride.
func (p *pk) tensor(class, key string, numel, offset int, size, stride []int) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", class).str(key).str("cpu").int(numel).op('t', 'Q')
	p.int(offset).tuple(size...).tuple(stride...).op('\x89')
	p.global("collections", "OrderedDict").op(')', 'R')
	return p.op('t', 'R')
}

// ckpt builds a zip-format checkpoint: archive/data.pkl and the given
// records under archive/ (e.g. "data/0").
func ckpt(t testing.TB, pickle []byte, records map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("archive/data.pkl", pickle)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range records {
			if !yield(k) {
				return
			}
		}
	}) {
		add("archive/"+name, records[name])
	}
	add("archive/version", []byte("3\n"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func f32bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}
