package imagesets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

const goldenDir = "../../testdata/golden/images"

func writeFileT(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pngOf encodes a w×h RGB PNG whose pixels are f(x, y).
func pngOf(t testing.TB, w, h int, f func(x, y int) color.NRGBA) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, f(x, y))
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func solid(v uint8) func(x, y int) color.NRGBA {
	return func(x, y int) color.NRGBA { return color.NRGBA{v, uint8(x), uint8(y), 255} }
}

// idxBytes is an idx file of unsigned bytes with the given dimensions.
func idxBytes(dims []int, data []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// writeIDXSet writes a tiny idx set: n train and m test images of w×h,
// pixel values i+x+y, labels i mod 10; gzipped when zip.
func writeIDXSet(t testing.TB, dir string, n, m, w, h int, zip bool) {
	for _, part := range []struct {
		prefix string
		n      int
	}{{"train", n}, {"t10k", m}} {
		pix := make([]byte, part.n*w*h)
		lab := make([]byte, part.n)
		for i := 0; i < part.n; i++ {
			lab[i] = byte(i % 10)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					pix[i*w*h+y*w+x] = byte(i + x + y)
				}
			}
		}
		ib, lb := idxBytes([]int{part.n, h, w}, pix), idxBytes([]int{part.n}, lab)
		in, ln := part.prefix+"-images-idx3-ubyte", part.prefix+"-labels-idx1-ubyte"
		if zip {
			ib, lb, in, ln = gz(ib), gz(lb), in+".gz", ln+".gz"
		}
		writeFileT(t, filepath.Join(dir, in), ib)
		writeFileT(t, filepath.Join(dir, ln), lb)
	}
}
