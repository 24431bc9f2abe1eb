// Package images decodes image files into 8-bit RGB and applies the
// transforms that a ViT's input pipeline needs, exactly as PIL and
// torchvision compute them.
//
// An Image is 8-bit RGB in height×width×channel order, like a PIL image
// of mode "RGB". Decode and DecodeBytes read PNG, JPEG and GIF with the
// standard library. Before decoding they read the header's declared size
// and refuse an empty image or one of more than MaxPixels pixels, so that
// a decompression bomb gives an error naming the file instead of
// exhausting memory; a truncated or corrupt file gives an error naming
// the file, and the decoders are never allowed to panic.
//
// Colour models become RGB as PIL's convert("RGB") makes them where that
// is well defined: grey is replicated into the three channels, a palette
// is looked up, alpha is dropped (the stored, non-premultiplied colour is
// kept), and 16-bit samples keep their high byte. A GIF's transparent
// palette entry becomes black (Go's decoder drops its colour; PIL keeps
// it), and a first frame smaller than the GIF's screen is placed on a
// black screen of the declared size. JPEG's YCbCr and CMYK
// are converted with Go's color.YCbCrToRGB and color.CMYKToRGB; these
// differ from libjpeg's (which PIL uses) by a few levels, so decoded JPEG
// pixels are close to PIL's but not identical. PIL itself turns a 16-bit
// grey PNG (its mode "I") into RGB by clipping values above 255, which
// makes almost every pixel white; this package keeps the high byte
// instead, as it does for 16-bit colour.
//
// ResizeBicubic is bit-exact with Pillow's Image.resize((w, h),
// Image.BICUBIC) on RGB images (Pillow 9.4's separable fixed-point
// resampler, with its antialiasing support when downsampling); Resize
// does the same with Pillow's other convolution filters. It is what
// torchvision's Resize does to a PIL image. ToCHW is ToTensor followed by
// Normalize; RandomResizedCrop and HFlip are torchvision's augmentations
// with a seeded math/rand/v2 source (the same algorithm, not the same
// random numbers as torch). Transform bundles them as the VTAB-1K input
// pipeline: a bicubic resize to Size×Size and ImageNet normalisation.
package images
