package images

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func chunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngHeader is a PNG holding only a signature and an IHDR chunk declaring
// w×h 8-bit RGB, and an IDAT of a few bytes.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	out := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00})...)
	return append(out, chunk("IEND", nil)...)
}

func encodePNG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecompressionBomb(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bomb.png")
	if err := os.WriteFile(p, pngHeader(100000, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Decode(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "100000×100000") {
		t.Fatalf("got %v, want an error naming %s and its size", err, p)
	}
	// A lowered limit refuses an ordinary image.
	small := encodePNG(t, image.NewRGBA(image.Rect(0, 0, 20, 20)))
	old := MaxPixels
	MaxPixels = 399
	_, err = DecodeBytes("small.png", small)
	MaxPixels = old
	if err == nil || !strings.Contains(err.Error(), "small.png") {
		t.Fatalf("got %v with MaxPixels 399, want a refusal", err)
	}
	if _, err := DecodeBytes("small.png", small); err != nil {
		t.Fatal(err)
	}
}

func TestZeroSizeAndGarbage(t *testing.T) {
	// A GIF whose logical screen is 0×0 with no frames; and a 0×5 PNG header.
	gif0 := []byte("GIF89a\x00\x00\x00\x00\x00\x00\x00;")
	for name, b := range map[string][]byte{
		"zero.gif": gif0, "zero.png": pngHeader(0, 5), "empty.png": nil,
		"text.png": []byte("hello, world"), "bmp.png": []byte("BM\x00\x00"),
	} {
		m, err := DecodeBytes(name, b)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, %v; want an error naming the file", name, m, err)
		}
	}
	if _, err := Decode(t.TempDir()); err == nil {
		t.Error("decoding a folder succeeded")
	}
}

func TestTruncated(t *testing.T) {
	for _, f := range []string{"rgb.png", "rgb.jpg", "pal.gif", "cmyk.jpg", "rgb16.png"} {
		b, err := os.ReadFile(filepath.Join(goldenDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeBytes(f, b); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 8, 30, len(b) / 2, len(b) - 13} {
			_, err := DecodeBytes(f, b[:n])
			if err == nil || !strings.Contains(err.Error(), f) {
				t.Errorf("%s cut to %d bytes: got %v, want an error naming the file", f, n, err)
			}
		}
	}
}

func TestColourModels(t *testing.T) {
	r := image.Rect(0, 0, 2, 1)
	n := image.NewNRGBA(r)
	n.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})
	n.SetNRGBA(1, 0, color.NRGBA{1, 2, 3, 128})
	g := image.NewGray16(r)
	g.SetGray16(0, 0, color.Gray16{0xabcd})
	g.SetGray16(1, 0, color.Gray16{0x00ff})
	c := image.NewCMYK(r)
	c.SetCMYK(0, 0, color.CMYK{0, 0, 0, 0})
	c.SetCMYK(1, 0, color.CMYK{255, 0, 0, 0})
	for _, tc := range []struct {
		m    image.Image
		want []uint8
	}{
		{n, []uint8{200, 100, 50, 1, 2, 3}},
		{g, []uint8{0xab, 0xab, 0xab, 0, 0, 0}},
		{c, []uint8{255, 255, 255, 0, 255, 255}},
	} {
		got := FromImage(tc.m)
		if !bytes.Equal(got.Pix, tc.want) {
			t.Errorf("%T: got %v, want %v", tc.m, got.Pix, tc.want)
		}
	}
}

func randImage(r *rand.Rand, w, h int) *Image {
	m := New(w, h)
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
	}
	return m
}

func TestToCHW(t *testing.T) {
	m := &Image{W: 2, H: 1, Pix: []uint8{0, 255, 51, 102, 153, 204}}
	dst := make([]float32, 6)
	ToCHW(m, [3]float32{}, [3]float32{1, 1, 1}, dst)
	want := []float32{0, float32(102) / 255, 1, float32(153) / 255, float32(51) / 255, float32(204) / 255}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("ToTensor: got %v, want %v", dst, want)
		}
	}
	ToCHW(m, ImageNetMean, ImageNetStd, dst)
	// R of pixel 0: (0 - 0.485) / 0.229 in float32.
	if w := (float32(0) - float32(0.485)) / float32(0.229); dst[0] != w {
		t.Fatalf("normalised R = %v, want %v", dst[0], w)
	}
	if w := (float32(204)/255 - float32(0.406)) / float32(0.225); dst[5] != w {
		t.Fatalf("normalised B = %v, want %v", dst[5], w)
	}
}

func TestHFlipCrop(t *testing.T) {
	m := &Image{W: 3, H: 2, Pix: []uint8{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6}}
	f := HFlip(m)
	if !bytes.Equal(f.Pix, []uint8{3, 3, 3, 2, 2, 2, 1, 1, 1, 6, 6, 6, 5, 5, 5, 4, 4, 4}) {
		t.Fatalf("HFlip: %v", f.Pix)
	}
	c := Crop(m, 1, 1, 2, 1)
	if !bytes.Equal(c.Pix, []uint8{5, 5, 5, 6, 6, 6}) {
		t.Fatalf("Crop: %v", c.Pix)
	}
	if Crop(m, 2, 0, 2, 1) != nil {
		t.Fatal("Crop outside the image succeeded")
	}
}

func TestCropParams(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		w, h := 1+r.IntN(300), 1+r.IntN(300)
		x, y, cw, ch := CropParams(w, h, 0.08, 1, 3.0/4, 4.0/3, r)
		if cw <= 0 || ch <= 0 || x < 0 || y < 0 || x+cw > w || y+ch > h {
			t.Fatalf("%dx%d: crop %d,%d %dx%d outside", w, h, x, y, cw, ch)
		}
	}
	// An impossible scale range falls back to the centre crop, clamped to
	// the ratio: 100×10 is wider than 4/3, so 13×10 (round(13.33)).
	x, y, cw, ch := CropParams(100, 10, 5, 6, 3.0/4, 4.0/3, r)
	if x != 43 || y != 0 || cw != 13 || ch != 10 {
		t.Fatalf("fallback crop %d,%d %dx%d, want 43,0 13x10", x, y, cw, ch)
	}
}

func TestTransform(t *testing.T) {
	src := rand.New(rand.NewPCG(3, 4))
	m := randImage(src, 40, 30)
	tr := Transform{Size: 16, Mean: ImageNetMean, Std: ImageNetStd}
	dst := make([]float32, 3*16*16)
	if err := tr.Apply(m, true, nil, dst); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(dst))
	ToCHW(ResizeBicubic(m, 16, 16), ImageNetMean, ImageNetStd, want)
	for i := range want {
		if want[i] != dst[i] {
			t.Fatalf("VTAB transform differs from resize+ToCHW at %d", i)
		}
	}
	// Already the right size: no resize.
	sq := randImage(src, 16, 16)
	tr.Apply(sq, false, nil, dst)
	ToCHW(sq, ImageNetMean, ImageNetStd, want)
	for i := range want {
		if want[i] != dst[i] {
			t.Fatalf("same-size transform resized the image")
		}
	}
	if err := tr.Apply(m, false, nil, dst[:10]); err == nil {
		t.Fatal("short output accepted")
	}
	// Augmenting: deterministic given the source; different draws differ.
	tr.Augment, tr.Flip = true, true
	a, b := make([]float32, len(dst)), make([]float32, len(dst))
	if err := tr.Apply(m, true, rand.New(rand.NewPCG(7, 7)), a); err != nil {
		t.Fatal(err)
	}
	tr.Apply(m, true, rand.New(rand.NewPCG(7, 7)), b)
	for i := range a {
		if a[i] != b[i] || math.IsNaN(float64(a[i])) {
			t.Fatal("augmented transform is not deterministic")
		}
	}
	same := true
	r := rand.New(rand.NewPCG(8, 8))
	for k := 0; k < 5 && same; k++ {
		tr.Apply(m, true, r, b)
		for i := range a {
			if a[i] != b[i] {
				same = false
			}
		}
	}
	if same {
		t.Fatal("augmentation never changed the output")
	}
	if err := tr.Apply(m, true, nil, a); err == nil {
		t.Fatal("augmenting without a random source succeeded")
	}
}

func TestResizeEdges(t *testing.T) {
	m := randImage(rand.New(rand.NewPCG(5, 6)), 7, 5)
	if ResizeBicubic(m, 0, 3) != nil || ResizeBicubic(&Image{W: 2, H: 2}, 3, 3) != nil {
		t.Fatal("bad sizes accepted")
	}
	c := ResizeBicubic(m, 7, 5)
	if !bytes.Equal(c.Pix, m.Pix) || &c.Pix[0] == &m.Pix[0] {
		t.Fatal("same-size resize is not a copy")
	}
	// A constant image stays constant at every size.
	k := New(9, 4)
	for i := range k.Pix {
		k.Pix[i] = 77
	}
	for _, s := range [][2]int{{1, 1}, {3, 17}, {224, 224}, {9, 2}} {
		for _, v := range ResizeBicubic(k, s[0], s[1]).Pix {
			if v != 77 {
				t.Fatalf("constant image resized to %v has %d", s, v)
			}
		}
	}
}

// TestGIFSmallFrame: a GIF whose first frame is smaller than its screen
// decodes to the screen's size, the frame at its offset.
func TestGIFSmallFrame(t *testing.T) {
	// 4×3 screen, a 2×1 white frame at (1, 1).
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}}
	fr := image.NewPaletted(image.Rect(1, 1, 3, 2), pal)
	fr.Pix[0], fr.Pix[1] = 1, 1
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{fr}, Delay: []int{0},
		Config: image.Config{ColorModel: pal, Width: 4, Height: 3}})
	if err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if g, err := gif.Decode(bytes.NewReader(b)); err != nil || g.Bounds() != fr.Rect {
		t.Fatalf("the fixture's frame is not the small one: %v", err)
	}
	m, err := DecodeBytes("small.gif", b)
	if err != nil {
		t.Fatal(err)
	}
	if m.W != 4 || m.H != 3 {
		t.Fatalf("got %dx%d", m.W, m.H)
	}
	for i := 0; i < 12; i++ {
		want := uint8(0)
		if i == 5 || i == 6 {
			want = 255
		}
		if m.Pix[3*i] != want {
			t.Fatalf("pixel %d = %d, want %d", i, m.Pix[3*i], want)
		}
	}
}

// BenchmarkVTABTransform: a 500×375 photo through the VTAB transform.
func BenchmarkVTABTransform(b *testing.B) {
	m := randImage(rand.New(rand.NewPCG(1, 1)), 500, 375)
	dst := make([]float32, 3*224*224)
	for i := 0; i < b.N; i++ {
		VTAB.Apply(m, false, nil, dst)
	}
}
