package images

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: decoding never panics, and an image that decodes is within
// the limits and consistent.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.*g"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add(pngHeader(100000, 100000))
	f.Add(pngHeader(3, 2))
	old := MaxPixels
	MaxPixels = 1 << 16
	defer func() { MaxPixels = old }()
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeBytes("fuzz", b)
		if err != nil {
			if m != nil {
				t.Fatal("image and error")
			}
			return
		}
		if m.check() != nil || int64(m.W)*int64(m.H) > MaxPixels {
			t.Fatalf("decoded a malformed or too large image %dx%d", m.W, m.H)
		}
		// Resizing what decodes never panics either.
		ResizeBicubic(m, 5, 3)
	})
}

// FuzzResize: Resize of any small image to any small size is the right
// size and never panics.
func FuzzResize(f *testing.F) {
	f.Add(uint8(7), uint8(5), uint8(3), uint8(9), uint8(0), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, w, h, ow, oh, filt uint8, seed []byte) {
		W, H, OW, OH := int(w%40)+1, int(h%40)+1, int(ow%60)+1, int(oh%60)+1
		m := New(W, H)
		for i := range m.Pix {
			if len(seed) > 0 {
				m.Pix[i] = seed[i%len(seed)] + uint8(i)
			}
		}
		out := Resize(m, OW, OH, Filter(filt%5))
		if out == nil || out.W != OW || out.H != OH || len(out.Pix) != 3*OW*OH {
			t.Fatal("wrong size")
		}
	})
}
