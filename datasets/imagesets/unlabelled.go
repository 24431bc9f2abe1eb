package imagesets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/images"
)

// IsUnlabelledImageFile reports whether OpenUnlabelled reads name: the
// extensions of images.IsImageFile and .gif, in any case.
func IsUnlabelledImageFile(name string) bool {
	return images.IsImageFile(name) || strings.EqualFold(filepath.Ext(name), ".gif")
}

// OpenUnlabelled opens every image under dir, for training without labels
// (masked-autoencoder pretraining): the .png, .jpg, .jpeg and .gif files
// (any case) in dir and all its sub-folders, hidden files and folders
// skipped, in sorted path order, whatever the folders mean. A shuffle
// seeded by seed puts round(testFraction·n) of the n files in Test and the
// others in Train, each part in path order. The Dataset has no Classes and
// every label is 0. Images are decoded when asked for, as OpenFolder's
// are (images.Decode with its size limits).
func OpenUnlabelled(dir string, testFraction float64, seed uint64) (*Dataset, error) {
	if !isDir(dir) {
		return nil, fmt.Errorf("%s: not a folder", dir)
	}
	if !(testFraction >= 0 && testFraction < 1) {
		return nil, fmt.Errorf("%s: test fraction %g is not in [0, 1)", dir, testFraction)
	}
	fs, err := filesUnder(dir, IsUnlabelledImageFile)
	if err != nil {
		return nil, err
	}
	nTest := int(math.Round(testFraction * float64(len(fs))))
	if len(fs)-nTest < 1 {
		return nil, fmt.Errorf("%s: %d .png, .jpg, .jpeg or .gif files under it, none left for training", dir, len(fs))
	}
	test := make([]bool, len(fs))
	for _, i := range rand.New(rand.NewPCG(seed, 0x756e6c6162656c)).Perm(len(fs))[:nTest] {
		test[i] = true
	}
	d := &Dataset{Name: filepath.Base(filepath.Clean(dir)),
		Train: &Split{paths: []string{}, Labels: []int{}, part: "train"}, Test: &Split{paths: []string{}, Labels: []int{}, part: "test"}}
	for i, f := range fs {
		s := d.Train
		if test[i] {
			s = d.Test
		}
		s.paths = append(s.paths, f)
		s.Labels = append(s.Labels, 0)
	}
	return d, nil
}
