package images

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif" // GIF decoding for Decode
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
)

// Image is an 8-bit RGB image, its pixels interleaved in row-major
// height×width×channel order: the value of channel c at (x, y) is
// Pix[3*(y*W+x)+c].
type Image struct {
	W, H int
	Pix  []uint8
}

// New returns a black w×h image.
func New(w, h int) *Image {
	return &Image{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// Clone returns a copy of m.
func (m *Image) Clone() *Image {
	return &Image{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
}

// check reports whether m's fields are consistent.
func (m *Image) check() error {
	if m == nil {
		return errors.New("nil image")
	}
	if m.W <= 0 || m.H <= 0 || len(m.Pix) != 3*m.W*m.H {
		return fmt.Errorf("malformed %d×%d image with %d bytes of pixels", m.W, m.H, len(m.Pix))
	}
	return nil
}

// MaxPixels is the largest image, in pixels, that Decode and DecodeBytes
// accept: 64 Mpx unless lowered (or raised). The size is read from the
// file's header before anything is decoded.
var MaxPixels int64 = 64 << 20

// maxFileBytes bounds the size of a file Decode reads into memory.
const maxFileBytes = 1 << 30

// Decode reads a PNG, JPEG or GIF file into an RGB image. Errors name
// the file.
func Decode(path string) (*Image, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, not an image", path)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: file of %d bytes is larger than the %d bytes an image may have", path, st.Size(), int64(maxFileBytes))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeBytes(path, b)
}

// DecodeBytes decodes a PNG, JPEG or GIF file held in b; name is used in
// errors (a file name). The format is recognised from the data, not the
// name.
func DecodeBytes(name string, b []byte) (m *Image, err error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: empty file", name)
	}
	cfg, format, err := decodeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable PNG, JPEG or GIF image: %v", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: %s image of size %d×%d is empty", name, format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > MaxPixels || px/int64(cfg.Height) != int64(cfg.Width) {
		return nil, fmt.Errorf("%s: %s image declares %d×%d = %d pixels, more than the limit of %d (images.MaxPixels)", name, format, cfg.Width, cfg.Height, px, MaxPixels)
	}
	var src image.Image
	func() {
		defer func() {
			if r := recover(); r != nil {
				src, err = nil, fmt.Errorf("the %s decoder failed: %v", format, r)
			}
		}()
		switch format {
		case "png":
			src, err = png.Decode(bytes.NewReader(b))
		case "jpeg":
			src, err = jpeg.Decode(bytes.NewReader(b))
		case "gif":
			src, err = gif.Decode(bytes.NewReader(b))
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt or truncated %s image: %v", name, format, err)
	}
	r := src.Bounds()
	if format == "gif" && r.In(image.Rect(0, 0, cfg.Width, cfg.Height)) && (r.Dx() != cfg.Width || r.Dy() != cfg.Height) {
		// A first frame smaller than the logical screen: placed on a
		// black screen.
		frame, m := toRGB(src), New(cfg.Width, cfg.Height)
		for y := 0; y < frame.H; y++ {
			copy(m.Pix[3*((r.Min.Y+y)*m.W+r.Min.X):], frame.Pix[3*y*frame.W:3*(y+1)*frame.W])
		}
		return m, nil
	}
	if r.Dx() != cfg.Width || r.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s: %s image decodes to %d×%d but declares %d×%d", name, format, r.Dx(), r.Dy(), cfg.Width, cfg.Height)
	}
	return toRGB(src), nil
}

// decodeConfig reads the header of one of the three formats, recovering
// from a panic in a decoder.
func decodeConfig(b []byte) (cfg image.Config, format string, err error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		format = "png"
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		format = "jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		format = "gif"
	default:
		return cfg, "", errors.New("unknown format (want PNG, JPEG or GIF)")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the %s header decoder failed: %v", format, r)
		}
	}()
	switch format {
	case "png":
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	default:
		cfg, err = gif.DecodeConfig(bytes.NewReader(b))
	}
	return cfg, format, err
}

// IsImageFile reports whether name has one of the extensions the image
// collections read: .png, .jpg or .jpeg, in any case.
func IsImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// FromImage converts any image.Image to RGB as Decode does.
func FromImage(src image.Image) *Image {
	return toRGB(src)
}

// toRGB converts a decoded image to RGB (see the package comment).
func toRGB(src image.Image) *Image {
	r := src.Bounds()
	w, h := r.Dx(), r.Dy()
	m := New(w, h)
	p := m.Pix
	switch s := src.(type) {
	case *image.RGBA:
		// Opaque truecolour PNGs decode to RGBA with alpha 255.
		for y := 0; y < h; y++ {
			row := s.Pix[(y)*s.Stride:]
			for x := 0; x < w; x++ {
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA64:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = row[8*x], row[8*x+2], row[8*x+4]
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = row[8*x], row[8*x+2], row[8*x+4]
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = row[x], row[x], row[x]
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				v := row[2*x]
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = v, v, v
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, 256)
		for i, c := range s.Palette {
			if i < 256 {
				pal[i] = rgbOf(c)
			}
		}
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				c := pal[row[x]]
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = c[0], c[1], c[2]
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := s.YOffset(x+r.Min.X, y+r.Min.Y), s.COffset(x+r.Min.X, y+r.Min.Y)
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = color.CMYKToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := rgbOf(src.At(x+r.Min.X, y+r.Min.Y))
				q := p[3*(y*w+x):]
				q[0], q[1], q[2] = c[0], c[1], c[2]
			}
		}
	}
	return m
}

// rgbOf is a colour's stored (non-premultiplied) RGB, its alpha dropped.
func rgbOf(c color.Color) [3]uint8 {
	switch t := c.(type) {
	case color.RGBA:
		if t.A == 0xff || t.A == 0 {
			return [3]uint8{t.R, t.G, t.B}
		}
	case color.NRGBA:
		return [3]uint8{t.R, t.G, t.B}
	case color.Gray:
		return [3]uint8{t.Y, t.Y, t.Y}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}
