package state

import (
	"strconv"
	"strings"
	"testing"
)

func TestQuoteAndFormatShapeCap(t *testing.T) {
	if got := Quote("abc"); got != `"abc"` {
		t.Errorf("Quote(abc) = %s", got)
	}
	long := strings.Repeat("é", 1000)
	if got := Quote(long); !strings.HasPrefix(got, `"`+strings.Repeat("é", 80)+`"…`) || !strings.Contains(got, "2000 bytes") {
		t.Errorf("Quote of 1000 runes = %s", got)
	}
	if got := FormatShape([]int{2, 3}); got != "[2 3]" {
		t.Errorf("FormatShape = %s", got)
	}
	dims := make([]int64, 100000)
	if got := FormatShape(dims); len(got) > 80 || !strings.Contains(got, "100000 in all") {
		t.Errorf("FormatShape of 100000 dims = %s", got)
	}
}

// TestErrorMessagesQuoteLittleInput feeds files whose names, shapes and
// keys are huge: every error must still be short and name the file.
func TestErrorMessagesQuoteLittleInput(t *testing.T) {
	const limit = 600 // bytes of message besides the path
	dims := strings.TrimSuffix(strings.Repeat("1,", 100000), ",")
	huge := strings.Repeat("k", 200000)
	f32 := func(name, shape string, b, e int) string {
		return `"` + name + `":{"dtype":"F32","shape":` + shape + `,"data_offsets":[` + strconv.Itoa(b) + `,` + strconv.Itoa(e) + `]}`
	}
	four := make([]byte, 4)
	st := map[string][]byte{
		"100000 dims, size mismatch": stFile(`{`+f32("x", "["+dims+"]", 0, 8)+`}`, make([]byte, 8)),
		"100000 dims, negative":      stFile(`{`+f32("x", "["+dims+",-1]", 0, 4)+`}`, four),
		"huge name, bad dtype":       stFile(`{"`+huge+`":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}`, four[:1]),
		"huge dtype":                 stFile(`{"x":{"dtype":"`+huge+`","shape":[1],"data_offsets":[0,1]}}`, four[:1]),
		"huge unknown field":         stFile(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"`+huge+`":1}}`, four),
		"huge duplicate key":         stFile(`{`+f32(huge, "[1]", 0, 4)+`,`+f32(huge, "[1]", 4, 8)+`}`, make([]byte, 8)),
		"huge offsets list":          stFile(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[`+dims+`]}}`, four),
		"huge overlapping names":     stFile(`{`+f32(huge+"a", "[2]", 0, 8)+`,`+f32(huge+"b", "[1]", 4, 8)+`}`, make([]byte, 8)),
		"huge metadata key":          stFile(`{"__metadata__":{"`+huge+`":1}}`, nil),
	}
	for name, data := range st {
		path := writeTemp(t, "bad.safetensors", data)
		_, err := ReadSafetensors(path)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, path) || len(msg) > len(path)+limit {
			t.Errorf("%s: %d-byte message %.300q", name, len(msg), msg)
		}
	}

	// A state dict whose entry under a huge key is not a tensor, and keys
	// that strip to the same name.
	m := &OrderedDict{}
	m.set(huge, 1)
	if _, err := StateDict(m, ""); err == nil || len(err.Error()) > limit {
		t.Errorf("StateDict: %v", err != nil)
	}
	if _, err := StateDict(m, huge+"x"); err == nil || len(err.Error()) > limit {
		t.Errorf("StateDict with a missing key: %v", err != nil)
	}
	d := NewDict()
	d.Set("module."+huge, &Tensor{Shape: []int{}, DType: F32, F32: []float32{1}})
	d.Set(huge, &Tensor{Shape: []int{}, DType: F32, F32: []float32{1}})
	if err := StripPrefixes(d); err == nil || len(err.Error()) > limit {
		t.Errorf("StripPrefixes: %v", err != nil)
	}
}
