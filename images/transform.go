package images

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// ImageNetMean and ImageNetStd are the per-channel (R, G, B) mean and
// standard deviation of ImageNet that timm and torchvision normalise with
// (timm's IMAGENET_DEFAULT_MEAN and IMAGENET_DEFAULT_STD).
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// ToCHW writes img into dst as a 3×H×W float32 tensor, channel first, as
// torchvision's ToTensor followed by Normalize(mean, std) computes it in
// float32: (v/255 - mean[c]) / std[c]. With mean 0 and std 1 it is plain
// ToTensor. dst must hold at least 3·W·H values; ToCHW panics otherwise,
// as a slice index does (it is a programming error, not bad input).
func ToCHW(img *Image, mean, std [3]float32, dst []float32) {
	n := img.W * img.H
	_ = dst[3*n-1]
	for c := 0; c < 3; c++ {
		m, s := mean[c], std[c]
		d := dst[c*n : (c+1)*n]
		for i := range d {
			d[i] = (float32(img.Pix[3*i+c])/255 - m) / s
		}
	}
}

// HFlip returns img mirrored left to right.
func HFlip(img *Image) *Image {
	out := New(img.W, img.H)
	for y := 0; y < img.H; y++ {
		in := img.Pix[3*y*img.W:]
		o := out.Pix[3*y*img.W:]
		for x := 0; x < img.W; x++ {
			j := img.W - 1 - x
			o[3*x], o[3*x+1], o[3*x+2] = in[3*j], in[3*j+1], in[3*j+2]
		}
	}
	return out
}

// Crop returns the w×h part of img whose top-left corner is (x, y). The
// rectangle must lie inside img; Crop returns nil otherwise.
func Crop(img *Image, x, y, w, h int) *Image {
	if x < 0 || y < 0 || w <= 0 || h <= 0 || x+w > img.W || y+h > img.H {
		return nil
	}
	out := New(w, h)
	for r := 0; r < h; r++ {
		copy(out.Pix[3*r*w:3*(r+1)*w], img.Pix[3*((y+r)*img.W+x):])
	}
	return out
}

// CropParams chooses RandomResizedCrop's rectangle for a w×h image as
// torchvision's RandomResizedCrop.get_params does: up to ten tries of an
// area fraction uniform in [scaleLo, scaleHi] and an aspect ratio
// log-uniform in [ratioLo, ratioHi], rounded half to even as Python's
// round; then a centre crop clamped to the ratio range. It returns the
// top-left corner and size.
func CropParams(w, h int, scaleLo, scaleHi, ratioLo, ratioHi float64, r *rand.Rand) (x, y, cw, ch int) {
	area := float64(w * h)
	lr0, lr1 := math.Log(ratioLo), math.Log(ratioHi)
	for try := 0; try < 10; try++ {
		target := area * (scaleLo + (scaleHi-scaleLo)*r.Float64())
		ar := math.Exp(lr0 + (lr1-lr0)*r.Float64())
		cw = int(math.RoundToEven(math.Sqrt(target * ar)))
		ch = int(math.RoundToEven(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			y = r.IntN(h - ch + 1)
			x = r.IntN(w - cw + 1)
			return x, y, cw, ch
		}
	}
	in := float64(w) / float64(h)
	switch {
	case in < math.Min(ratioLo, ratioHi):
		cw = w
		ch = int(math.RoundToEven(float64(cw) / math.Min(ratioLo, ratioHi)))
	case in > math.Max(ratioLo, ratioHi):
		ch = h
		cw = int(math.RoundToEven(float64(ch) * math.Max(ratioLo, ratioHi)))
	default:
		cw, ch = w, h
	}
	cw, ch = max(1, min(cw, w)), max(1, min(ch, h))
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}

// RandomResizedCrop crops a random part of img (see CropParams) and
// resizes it to size×size with ResizeBicubic, as torchvision's
// RandomResizedCrop(size, scale, ratio, interpolation=BICUBIC) does on a
// PIL image. The random numbers come from r, not torch's generator.
func RandomResizedCrop(img *Image, size int, scaleLo, scaleHi, ratioLo, ratioHi float64, r *rand.Rand) *Image {
	x, y, w, h := CropParams(img.W, img.H, scaleLo, scaleHi, ratioLo, ratioHi, r)
	return ResizeBicubic(Crop(img, x, y, w, h), size, size)
}

// Transform is the input pipeline of an image classifier. Without
// Augment (VTAB-1K's protocol, NOAH's --no_aug --direct_resize), every
// image is resized to Size×Size with bicubic interpolation and
// normalised with Mean and Std. With Augment, training images instead get
// a RandomResizedCrop of Size with area fraction Scale (default 0.08 to
// 1) and ratio 3/4 to 4/3, and, when Flip, a horizontal flip with
// probability one half; evaluation images are resized as without it.
type Transform struct {
	Size      int
	Mean, Std [3]float32
	Augment   bool
	Scale     [2]float64
	Flip      bool
}

// VTAB is the VTAB-1K transform: 224×224 bicubic, ImageNet normalisation.
var VTAB = Transform{Size: 224, Mean: ImageNetMean, Std: ImageNetStd}

// Apply transforms img into dst, which must hold 3·Size·Size values, as
// a channel-first tensor. train selects the training pipeline (it
// matters only with Augment); r supplies the randomness, and the result
// is a function of img, train and r's state. r may be nil when no
// randomness is needed.
func (t Transform) Apply(img *Image, train bool, r *rand.Rand, dst []float32) error {
	if t.Size <= 0 {
		return fmt.Errorf("transform size %d is not positive", t.Size)
	}
	if err := img.check(); err != nil {
		return err
	}
	if len(dst) != 3*t.Size*t.Size {
		return fmt.Errorf("transform output holds %d values, want 3×%d×%d", len(dst), t.Size, t.Size)
	}
	for c := 0; c < 3; c++ {
		if t.Std[c] == 0 {
			return errors.New("transform standard deviation of zero")
		}
	}
	out := img
	if t.Augment && train {
		if r == nil {
			return errors.New("augmenting transform without a random source")
		}
		lo, hi := t.Scale[0], t.Scale[1]
		if lo == 0 && hi == 0 {
			lo, hi = 0.08, 1
		}
		if !(lo > 0 && lo <= hi && hi <= 1) {
			return fmt.Errorf("transform scale [%g, %g] is not within (0, 1]", lo, hi)
		}
		out = RandomResizedCrop(img, t.Size, lo, hi, 3.0/4, 4.0/3, r)
		if t.Flip && r.IntN(2) == 1 {
			out = HFlip(out)
		}
	} else if img.W != t.Size || img.H != t.Size {
		out = ResizeBicubic(img, t.Size, t.Size)
	}
	ToCHW(out, t.Mean, t.Std, dst)
	return nil
}
