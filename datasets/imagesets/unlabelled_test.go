package imagesets

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestOpenUnlabelled: every png, jpg, jpeg and gif under the folder, in
// sub-folders too and in sorted order, hidden ones and other files
// skipped, a seeded share held out, labels 0, the images decoding.
func TestOpenUnlabelled(t *testing.T) {
	dir := t.TempDir()
	var g bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{color.Black, color.White})
	pal.Pix[1] = 1
	if err := gif.Encode(&g, pal, nil); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, name := range []string{"z.png", "a/b.PNG", "a/c/d.png", "e.gif", "f/g.png", "f/h.png", "i.png", "j.png", "k/l.png", "m.png"} {
		data := pngOf(t, 4, 3, solid(uint8(10*i)))
		if strings.HasSuffix(name, ".gif") {
			data = g.Bytes()
		}
		writeFileT(t, filepath.Join(dir, name), data)
		want = append(want, filepath.Join(dir, name))
	}
	writeFileT(t, filepath.Join(dir, "notes.txt"), []byte("not an image"))
	writeFileT(t, filepath.Join(dir, ".hidden.png"), pngOf(t, 2, 2, solid(1)))
	writeFileT(t, filepath.Join(dir, ".cache", "x.png"), pngOf(t, 2, 2, solid(1)))

	d, err := OpenUnlabelled(dir, 0.2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 8 || d.Test.Len() != 2 || len(d.Classes) != 0 {
		t.Fatalf("%d train, %d test, classes %v; want 8, 2, none", d.Train.Len(), d.Test.Len(), d.Classes)
	}
	var got []string
	for _, s := range []*Split{d.Train, d.Test} {
		for i := 0; i < s.Len(); i++ {
			got = append(got, s.Path(i))
			if s.Labels[i] != 0 {
				t.Errorf("%s: label %d", s.Path(i), s.Labels[i])
			}
			m, err := s.Image(i)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(s.Path(i), ".gif") {
				if m.W != 3 || m.H != 2 || m.Pix[3] != 255 {
					t.Errorf("gif decoded as %d×%d %v", m.W, m.H, m.Pix)
				}
			} else if m.W != 4 || m.H != 3 {
				t.Errorf("%s: %d×%d", s.Path(i), m.W, m.H)
			}
		}
		for i := 1; i < s.Len(); i++ {
			if s.Path(i-1) >= s.Path(i) {
				t.Errorf("%s before %s", s.Path(i-1), s.Path(i))
			}
		}
	}
	sortStrings := func(a []string) []string {
		b := append([]string(nil), a...)
		for i := range b {
			for j := i + 1; j < len(b); j++ {
				if b[j] < b[i] {
					b[i], b[j] = b[j], b[i]
				}
			}
		}
		return b
	}
	if !reflect.DeepEqual(sortStrings(got), sortStrings(want)) {
		t.Errorf("files %v, want %v", got, want)
	}
	// The same seed holds out the same files; another seed others.
	d2, _ := OpenUnlabelled(dir, 0.2, 3)
	if !reflect.DeepEqual(d.Test.paths, d2.Test.paths) {
		t.Error("the held-out files changed for one seed")
	}
	same := true
	for s := uint64(4); s < 10; s++ {
		d3, _ := OpenUnlabelled(dir, 0.2, s)
		same = same && reflect.DeepEqual(d.Test.paths, d3.Test.paths)
	}
	if same {
		t.Error("every seed holds out the same files")
	}
	if d0, err := OpenUnlabelled(dir, 0, 3); err != nil || d0.Train.Len() != 10 || d0.Test.Len() != 0 {
		t.Errorf("no test fraction: %v", err)
	}
	for _, tc := range []struct {
		dir  string
		frac float64
		want string
	}{
		{filepath.Join(dir, "z.png"), 0.2, "not a folder"},
		{dir, 1, "test fraction"},
		{filepath.Join(dir, "a", "c"), 0.6, "none left for training"},
		{t.TempDir(), 0, "0 .png"},
	} {
		if _, err := OpenUnlabelled(tc.dir, tc.frac, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s, %g: %v, want %q", tc.dir, tc.frac, err, tc.want)
		}
	}
}
