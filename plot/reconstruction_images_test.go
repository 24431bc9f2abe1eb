package plot

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/images"
)

// TestReconstructionImages: the grid is written, its size follows the
// rows, the images' colours are in it, and bad rows are refused.
func TestReconstructionImages(t *testing.T) {
	img := func(v uint8) *images.Image {
		m := images.New(8, 8)
		for i := range m.Pix {
			m.Pix[i] = v + uint8(i%7)*10
		}
		return m
	}
	rows := [][4]*images.Image{{img(10), img(60), img(120), img(180)}, {img(20), img(70), img(130), img(190)}, {img(30), img(80), img(140), img(200)}}
	p := filepath.Join(t.TempDir(), "reconstruction.png")
	if err := ReconstructionImages(p, "MAE reconstructions of held-out images", rows); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := m.Bounds()
	if b.Dx() < 4*150 || b.Dy() < 3*150 || b.Dx() > 2000 || b.Dy() > 2000 {
		t.Errorf("figure of %d×%d pixels for 3 rows of 4 cells", b.Dx(), b.Dy())
	}
	// The distinct grey levels of the cells are there.
	seen := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bb, _ := m.At(x, y).RGBA()
			if r == g && g == bb {
				seen[r>>8] = true
			}
		}
	}
	for _, v := range []uint32{10, 60, 120, 180, 200} {
		if !seen[v] {
			t.Errorf("grey level %d of a cell is not in the figure", v)
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d grey levels in the figure", len(seen))
	}

	bad := [][4]*images.Image{{img(1), img(2), images.New(4, 4), img(3)}}
	if err := ReconstructionImages(p, "", bad); err == nil || !strings.Contains(err.Error(), "reconstruction is 4×4") {
		t.Errorf("mismatched sizes: %v", err)
	}
	if err := ReconstructionImages(p, "", [][4]*images.Image{{img(1), nil, img(2), img(3)}}); err == nil || !strings.Contains(err.Error(), "masked input") {
		t.Errorf("missing image: %v", err)
	}
	if err := ReconstructionImages(p, "", nil); err == nil {
		t.Error("no rows: no error")
	}
}
