package images

import (
	"fmt"
	"math"
)

// Filter is one of Pillow's convolution resampling filters.
type Filter int

// The filters, with Pillow's names and supports.
const (
	Bicubic  Filter = iota // Image.BICUBIC: cubic convolution, a = -0.5, support 2
	Bilinear               // Image.BILINEAR: triangle, support 1
	Box                    // Image.BOX: support 0.5
	Hamming                // Image.HAMMING: support 1
	Lanczos                // Image.LANCZOS: Lanczos-3, support 3
)

// String is the filter's name.
func (f Filter) String() string {
	switch f {
	case Bicubic:
		return "bicubic"
	case Bilinear:
		return "bilinear"
	case Box:
		return "box"
	case Hamming:
		return "hamming"
	case Lanczos:
		return "lanczos"
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// support and eval follow Pillow's src/libImaging/Resample.c.
func (f Filter) support() float64 {
	switch f {
	case Bilinear, Hamming:
		return 1
	case Box:
		return 0.5
	case Lanczos:
		return 3
	}
	return 2
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

func (f Filter) eval(x float64) float64 {
	switch f {
	case Bilinear:
		if x < 0 {
			x = -x
		}
		if x < 1 {
			return 1 - x
		}
		return 0
	case Box:
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	case Hamming:
		if x < 0 {
			x = -x
		}
		if x == 0 {
			return 1
		}
		if x >= 1 {
			return 0
		}
		x *= math.Pi
		return math.Sin(x) / x * (0.54 + 0.46*math.Cos(x))
	case Lanczos:
		if x > -3 && x < 3 {
			return sinc(x) * sinc(x/3)
		}
		return 0
	}
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

// precisionBits is Pillow's fixed-point precision for 8-bit images.
const precisionBits = 32 - 8 - 2

// coeffs are the fixed-point weights of one axis: output sample i reads
// n[i] inputs from first[i], with weights k[i*ksize:].
type coeffs struct {
	ksize    int
	first, n []int
	k        []int32
}

// precompute computes the weights of resampling inSize samples (the
// whole axis, Pillow's box [0, inSize]) to outSize, as Pillow's
// precompute_coeffs and normalize_coeffs_8bpc do.
func precompute(inSize, outSize int, f Filter) coeffs {
	in0, in1 := float32(0), float32(inSize) // Pillow's box is float
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := f.support() * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, first: make([]int, outSize), n: make([]int, outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := float64(in0) + (float64(xx)+0.5)*scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5) // C's truncating conversion
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = f.eval((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		k := c.k[xx*ksize : (xx+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.first[xx], c.n[xx] = xmin, xmax
	}
	return c
}

// clip8 is Pillow's clip8: the fixed-point sum's integer part, clamped.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ResizeBicubic resizes src to w×h as Pillow's Image.resize((w, h),
// Image.BICUBIC) does, bit for bit. It returns a copy when the size is
// unchanged, and nil when w or h is not positive or src is malformed.
func ResizeBicubic(src *Image, w, h int) *Image {
	return Resize(src, w, h, Bicubic)
}

// Resize resizes src to w×h with one of Pillow's convolution filters,
// bit-exact with Pillow 9.4's Image.resize on an RGB image: a horizontal
// pass over the rows that the vertical pass needs, then a vertical pass,
// each skipped when its axis keeps its size, each rounding and clamping
// to 8 bits. When downsampling, the filter is stretched by the scale
// factor (antialiasing). It returns nil when w or h is not positive or
// src is malformed.
func Resize(src *Image, w, h int, f Filter) *Image {
	if w <= 0 || h <= 0 || src.check() != nil {
		return nil
	}
	if w == src.W && h == src.H {
		return src.Clone()
	}
	needH, needV := w != src.W, h != src.H
	ch := precompute(src.W, w, f)
	cv := precompute(src.H, h, f)
	cur := src
	if needH {
		first := cv.first[0]
		last := cv.first[h-1] + cv.n[h-1]
		tmp := New(w, last-first)
		horizontal(tmp, src, first, ch)
		shifted := cv
		shifted.first = make([]int, h)
		for i := range shifted.first {
			shifted.first[i] = cv.first[i] - first
		}
		cv = shifted
		cur = tmp
	}
	if needV {
		out := New(cur.W, h)
		vertical(out, cur, cv)
		cur = out
	}
	return cur
}

func horizontal(dst, src *Image, offset int, c coeffs) {
	const half = int32(1) << (precisionBits - 1)
	for yy := 0; yy < dst.H; yy++ {
		in := src.Pix[3*(yy+offset)*src.W : 3*(yy+offset+1)*src.W]
		out := dst.Pix[3*yy*dst.W : 3*(yy+1)*dst.W]
		for xx := 0; xx < dst.W; xx++ {
			k := c.k[xx*c.ksize : xx*c.ksize+c.n[xx]]
			p := in[3*c.first[xx]:]
			s0, s1, s2 := half, half, half
			for x, kx := range k {
				s0 += int32(p[3*x]) * kx
				s1 += int32(p[3*x+1]) * kx
				s2 += int32(p[3*x+2]) * kx
			}
			out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

func vertical(dst, src *Image, c coeffs) {
	const half = int32(1) << (precisionBits - 1)
	row := 3 * src.W
	for yy := 0; yy < dst.H; yy++ {
		k := c.k[yy*c.ksize : yy*c.ksize+c.n[yy]]
		base := c.first[yy] * row
		out := dst.Pix[yy*row : (yy+1)*row]
		for i := 0; i < row; i++ {
			s := half
			for y, ky := range k {
				s += int32(src.Pix[base+y*row+i]) * ky
			}
			out[i] = clip8(s)
		}
	}
}
