package datasets

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseNPY feeds arbitrary bytes to the .npy reader of LoadNPY: data
// that matches its header or an error, never a panic.
func FuzzParseNPY(f *testing.F) {
	dir := f.TempDir()
	for i, c := range []struct {
		descr string
		shape []int
		data  []byte
	}{
		{"<f4", []int{1, 2, 3}, float32Bytes([][]float32{{1, 2, 3, 4, 5, 6}})},
		{"<i8", []int{2}, int64Bytes([]int{3, 7})},
		{"<f8", []int{0}, nil},
	} {
		p := filepath.Join(dir, string(rune('a'+i))+".npy")
		if err := writeNPY(p, c.descr, c.shape, c.data); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseNPY("fuzz.npy", b)
		if err != nil {
			return
		}
		v := a.values()
		if v.dtype == nil {
			t.Fatalf("dtype %q accepted but unknown", a.descr)
		}
		n := v.dtype.size
		for _, d := range a.shape {
			n *= d
		}
		if n != len(a.data) {
			t.Fatalf("shape %v of %s with %d data bytes", a.shape, v.dtype, len(a.data))
		}
	})
}
