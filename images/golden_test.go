package images

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

const goldenDir = "../testdata/golden/images"

type resizeGolden struct {
	Pillow string `json:"pillow"`
	Resize []struct {
		W, H int
		Pix  string
		Outs []struct {
			W, H   int
			Filter string
			SHA256 string `json:"sha256"`
			Pix    string
		}
	}
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var filterByName = map[string]Filter{"bicubic": Bicubic, "bilinear": Bilinear, "box": Box, "hamming": Hamming, "lanczos": Lanczos}

// TestResizeMatchesPIL compares Resize with Pillow's Image.resize byte for
// byte (scripts/golden_images.py): downsampling by non-integer factors,
// upsampling, one axis only and the same size, for every filter.
func TestResizeMatchesPIL(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(goldenDir, "resize.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g resizeGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range g.Resize {
		src := &Image{W: c.W, H: c.H, Pix: b64(t, c.Pix)}
		if err := src.check(); err != nil {
			t.Fatal(err)
		}
		for _, o := range c.Outs {
			f, ok := filterByName[o.Filter]
			if !ok {
				t.Fatalf("unknown filter %q", o.Filter)
			}
			got := Resize(src, o.W, o.H, f)
			if f == Bicubic {
				if b := ResizeBicubic(src, o.W, o.H); string(b.Pix) != string(got.Pix) {
					t.Fatalf("ResizeBicubic differs from Resize(Bicubic)")
				}
			}
			if got.W != o.W || got.H != o.H || len(got.Pix) != 3*o.W*o.H {
				t.Fatalf("%dx%d→%dx%d %s: got %dx%d", c.W, c.H, o.W, o.H, o.Filter, got.W, got.H)
			}
			name := func() string {
				return o.Filter + " " + itoa(c.W) + "x" + itoa(c.H) + "→" + itoa(o.W) + "x" + itoa(o.H)
			}
			if o.Pix != "" {
				want := b64(t, o.Pix)
				diffs, first := 0, -1
				for i := range want {
					if want[i] != got.Pix[i] {
						if first < 0 {
							first = i
						}
						diffs++
					}
				}
				if diffs > 0 {
					t.Errorf("%s: %d of %d bytes differ from PIL, first at %d (got %d, want %d)", name(), diffs, len(want), first, got.Pix[first], want[first])
				}
			}
			sum := sha256.Sum256(got.Pix)
			if hex.EncodeToString(sum[:]) != o.SHA256 {
				t.Errorf("%s: SHA-256 differs from PIL's", name())
			}
			n++
		}
	}
	if n < 50 {
		t.Fatalf("only %d resize cases", n)
	}
	t.Logf("%d resizes identical to Pillow %s", n, g.Pillow)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

type decodeGolden struct {
	Files []struct {
		File   string
		W, H   int
		Pix    string
		PILPix string `json:"pil_pix"`
		Exact  bool
		Note   string
	}
}

// TestDecodeMatchesPIL decodes files PIL wrote and compares with PIL's
// convert("RGB"). PNG and GIF must match exactly. JPEG may differ by a
// few levels: Go's image/jpeg and libjpeg (PIL) use different IDCTs,
// chroma upsampling (libjpeg's "fancy" triangle filter against Go's
// nearest neighbour) and YCbCr/CMYK to RGB arithmetic, so JPEG pixels
// are compared with a tolerance of 12 levels per channel and a mean
// absolute difference of at most 2.
func TestDecodeMatchesPIL(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(goldenDir, "decode.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g decodeGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Files) < 10 {
		t.Fatalf("only %d decode cases", len(g.Files))
	}
	for _, f := range g.Files {
		m, err := Decode(filepath.Join(goldenDir, f.File))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		want := b64(t, f.Pix)
		if m.W != f.W || m.H != f.H || len(m.Pix) != len(want) {
			t.Errorf("%s: got %dx%d, want %dx%d", f.File, m.W, m.H, f.W, f.H)
			continue
		}
		maxd, sum := 0, 0
		for i := range want {
			d := int(m.Pix[i]) - int(want[i])
			if d < 0 {
				d = -d
			}
			maxd = max(maxd, d)
			sum += d
		}
		mean := float64(sum) / float64(len(want))
		if f.Exact && maxd != 0 {
			t.Errorf("%s: differs from PIL by up to %d levels, want identical", f.File, maxd)
		}
		if !f.Exact && (maxd > 12 || mean > 3) {
			t.Errorf("%s: differs from PIL by up to %d levels (mean %.2f)", f.File, maxd, mean)
		}
		t.Logf("%s: max difference %d, mean %.3f %s", f.File, maxd, mean, f.Note)
	}
}

// TestTransformMatchesTorch runs the VTAB transform (bicubic resize,
// ToTensor, Normalize) and compares with Pillow and torch's float32
// arithmetic bit for bit.
func TestTransformMatchesTorch(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(goldenDir, "transform.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Torch    string
		W, H     int
		Size     int
		Pix, CHW string
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	src := &Image{W: g.W, H: g.H, Pix: b64(t, g.Pix)}
	tr := Transform{Size: g.Size, Mean: ImageNetMean, Std: ImageNetStd}
	got := make([]float32, 3*g.Size*g.Size)
	if err := tr.Apply(src, false, nil, got); err != nil {
		t.Fatal(err)
	}
	want := b64(t, g.CHW)
	if len(want) != 4*len(got) {
		t.Fatalf("golden holds %d bytes, want %d", len(want), 4*len(got))
	}
	bad := 0
	for i, v := range got {
		w := math.Float32frombits(binary.LittleEndian.Uint32(want[4*i:]))
		if v != w {
			if bad == 0 {
				t.Errorf("value %d: got %v, torch %v", i, v, w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d values differ from torch %s", bad, len(got), g.Torch)
	}
}
