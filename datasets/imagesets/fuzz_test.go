package imagesets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/pcx-dev/pcx/datasets"
)

func FuzzParseList(f *testing.F) {
	f.Add([]byte("images/a.jpg 3\nimages/b c.png 4\r\n"))
	f.Add([]byte("x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseList("l.txt", b)
		if err != nil {
			return
		}
		for _, e := range es {
			if e.label < 0 || e.path == "" || !filepath.IsLocal(e.path) {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

func FuzzIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 2}, make([]byte, 8)), true)
	f.Add(idxBytes([]int{3}, []byte{1, 2, 3}), false)
	f.Add(gz(idxBytes([]int{2, 2, 2}, make([]byte, 8))), true)
	f.Fuzz(func(t *testing.T, b []byte, images bool) {
		dims := 1
		if images {
			dims = 3
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		shape, data, err := readIDX(p, dims)
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v but %d bytes", shape, len(data))
		}
	})
}

func FuzzCIFARBin(f *testing.F) {
	f.Add(append([]byte{3}, cifarPix(0)...), false)
	f.Add(append([]byte{3, 4}, cifarPix(0)...), true)
	f.Fuzz(func(t *testing.T, b []byte, hundred bool) {
		pix, labels, err := parseCIFARBin("f", b, hundred)
		if err != nil {
			return
		}
		if len(pix) != 3072*len(labels) {
			t.Fatal("size mismatch")
		}
	})
}

func FuzzCIFARPickle(f *testing.F) {
	for _, p := range []string{"cifar10-py/batches.meta", "cifar100-py/test", "evil.pickle"} {
		if b, err := os.ReadFile(filepath.Join(goldenDir, p)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := datasets.Unpickle(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		d, ok := v.(*types.Dict)
		if !ok {
			return
		}
		for _, hundred := range []bool{false, true} {
			pix, labels, err := cifarFromDict("f", d, hundred)
			if err == nil && len(pix) != 3072*len(labels) {
				t.Fatal("size mismatch")
			}
		}
	})
}
