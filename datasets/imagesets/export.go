package imagesets

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/images"
)

// ExportVTAB1K writes d as the VTAB-1K task folder <root>/<task>: PNG
// files under images/, train800.txt with trainN images of d.Train (800
// when trainN ≤ 0), val200.txt with valN others (200 when valN ≤ 0),
// train800val200.txt with both, test.txt with testN images of d.Test (all
// when testN ≤ 0 or more than there are), and classes.txt with d.Classes.
// The picks are a permutation of d.Train seeded by seed, whose first
// trainN entries are the training images and the next valN the
// validation images (not stratified by class), and a seeded choice of
// testN test images; each list is in the splits' order. The folder is
// built under a temporary name in root and renamed into place when
// whole, and an existing <root>/<task> is never overwritten.
func ExportVTAB1K(d *Dataset, root, task string, seed uint64, trainN, valN, testN int) (err error) {
	if d == nil || d.Train == nil {
		return errors.New("exporting a dataset without a train split")
	}
	if task == "" || !filepath.IsLocal(task) || strings.ContainsAny(task, `/\`) {
		return fmt.Errorf("VTAB task name %q is not a folder name", task)
	}
	if trainN <= 0 {
		trainN = 800
	}
	if valN <= 0 {
		valN = 200
	}
	if trainN+valN > d.Train.Len() {
		return fmt.Errorf("exporting %s: %d training and %d validation images asked for, the train split has %d", task, trainN, valN, d.Train.Len())
	}
	nTest := d.Test.Len()
	if testN > 0 && testN < nTest {
		nTest = testN
	}
	final := filepath.Join(root, task)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%s: already exists; not overwriting it", final)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(root, "."+task+".tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Mkdir(filepath.Join(tmp, "images"), 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, 0x76746162316b)) // "vtab1k"
	perm := r.Perm(d.Train.Len())
	trainIdx := sortedCopy(perm[:trainN])
	valIdx := sortedCopy(perm[trainN : trainN+valN])
	var testIdx []int
	if nTest == d.Test.Len() {
		testIdx = make([]int, nTest)
		for i := range testIdx {
			testIdx[i] = i
		}
	} else {
		testIdx = sortedCopy(r.Perm(d.Test.Len())[:nTest])
	}
	write := func(s *Split, part string, idx []int) ([]string, error) {
		lines := make([]string, len(idx))
		for k, i := range idx {
			m, err := s.Image(i)
			if err != nil {
				return nil, err
			}
			rel := fmt.Sprintf("images/%s_%06d.png", part, i)
			if err := writePNG(filepath.Join(tmp, rel), m); err != nil {
				return nil, err
			}
			lines[k] = fmt.Sprintf("%s %d\n", rel, s.Labels[i])
		}
		return lines, nil
	}
	trainLines, err := write(d.Train, "train", trainIdx)
	if err != nil {
		return err
	}
	valLines, err := write(d.Train, "train", valIdx)
	if err != nil {
		return err
	}
	var testLines []string
	if d.Test != nil {
		if testLines, err = write(d.Test, "test", testIdx); err != nil {
			return err
		}
	}
	lists := []struct {
		name  string
		lines []string
	}{
		{listTrain, trainLines}, {listVal, valLines},
		{listTrainVal, append(append([]string(nil), trainLines...), valLines...)},
		{listTest, testLines},
	}
	if len(d.Classes) > 0 {
		cl := make([]string, len(d.Classes))
		for i, c := range d.Classes {
			cl[i] = strings.ReplaceAll(c, "\n", " ") + "\n"
		}
		lists = append(lists, struct {
			name  string
			lines []string
		}{classesFile, cl})
	}
	for _, l := range lists {
		if err := writeText(filepath.Join(tmp, l.name), l.lines); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%s: already exists; not overwriting it", final)
	}
	return os.Rename(tmp, final)
}

func sortedCopy(a []int) []int {
	b := append([]int(nil), a...)
	sort.Ints(b)
	return b
}

func writeFile(p string, fill func(io.Writer) error) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := fill(w); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", p, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeText(p string, lines []string) error {
	return writeFile(p, func(w io.Writer) error {
		for _, l := range lines {
			if _, err := io.WriteString(w, l); err != nil {
				return err
			}
		}
		return nil
	})
}

// writePNG writes m as an 8-bit RGB PNG.
func writePNG(p string, m *images.Image) error {
	rgba := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		copy(rgba.Pix[4*i:4*i+3], m.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 0xff
	}
	return writeFile(p, func(w io.Writer) error { return png.Encode(w, rgba) })
}
