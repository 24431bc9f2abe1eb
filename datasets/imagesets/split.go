package imagesets

import (
	"errors"
	"fmt"

	"github.com/pcx-dev/pcx/images"
)

// Split is one part (train or test) of a labelled image collection.
// Labels[i] is the class of image i, an index into the Dataset's Classes.
type Split struct {
	Labels []int

	// Files read lazily: paths[i] is image i's file.
	paths []string
	// In memory: image i is n = w·h·ch bytes at pix[i*n:], HWC, with ch 1
	// (grey) or 3 (RGB).
	pix      []uint8
	w, h, ch int
	// part names in-memory images: "train[12]".
	part string
}

// Len is the number of images.
func (s *Split) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Labels)
}

// InMemory reports whether the split's images were decoded when it was
// opened (idx, CIFAR) rather than being read from files on demand.
func (s *Split) InMemory() bool { return s.paths == nil && s.pix != nil }

// Name names image i: its file, or "train[123]" for an image held in
// memory.
func (s *Split) Name(i int) string {
	if s.paths != nil {
		if i >= 0 && i < len(s.paths) {
			return s.paths[i]
		}
	}
	return fmt.Sprintf("%s[%d]", s.part, i)
}

// Path is image i's file, or "" for an image held in memory.
func (s *Split) Path(i int) string {
	if s.paths != nil && i >= 0 && i < len(s.paths) {
		return s.paths[i]
	}
	return ""
}

// Image returns image i as RGB, decoding its file for sets read from
// files (errors name the file). The image is the caller's to modify.
func (s *Split) Image(i int) (*images.Image, error) {
	if i < 0 || i >= s.Len() {
		return nil, fmt.Errorf("image %d out of range [0, %d)", i, s.Len())
	}
	if s.paths != nil {
		return images.Decode(s.paths[i])
	}
	if s.pix == nil {
		return nil, errors.New("split holds no images")
	}
	n := s.w * s.h * s.ch
	src := s.pix[i*n : (i+1)*n]
	m := images.New(s.w, s.h)
	if s.ch == 3 {
		copy(m.Pix, src)
		return m, nil
	}
	for j, v := range src {
		m.Pix[3*j], m.Pix[3*j+1], m.Pix[3*j+2] = v, v, v
	}
	return m, nil
}

// Dataset is a labelled image collection: its name, the class names
// (label order) and a train and a test split.
type Dataset struct {
	Name        string
	Classes     []string
	Train, Test *Split
}

// numbered returns the class names "0", "1", ... "n-1".
func numbered(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = fmt.Sprint(i)
	}
	return c
}

// checkLabels verifies that every label is a class.
func checkLabels(what string, labels []int, classes int) error {
	for i, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("%s: label %d of image %d is outside the %d classes", what, l, i, classes)
		}
	}
	return nil
}
