package imagesets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/internal/memlimit"
)

const (
	cifarSide  = 32
	cifarBytes = 3 * cifarSide * cifarSide
	// maxPickleBytes bounds a CIFAR pickle (a CIFAR-100 train file is
	// 150 MiB).
	maxPickleBytes = 1 << 30
)

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// planarToHWC converts CIFAR's records of R, G and B planes to HWC.
func planarToHWC(dst, src []byte) {
	const n = cifarSide * cifarSide
	for j := 0; j < n; j++ {
		dst[3*j], dst[3*j+1], dst[3*j+2] = src[j], src[n+j], src[2*n+j]
	}
}

// cifarLayout says which CIFAR files dir holds.
type cifarLayout struct {
	train, test []string
	meta        string
	binary      bool
	hundred     bool
}

func detectCIFAR(dir string) (cifarLayout, bool) {
	j := func(n string) string { return filepath.Join(dir, n) }
	batches := func(ext string) []string {
		var out []string
		for i := 1; i <= 5; i++ {
			out = append(out, j(fmt.Sprintf("data_batch_%d%s", i, ext)))
		}
		return out
	}
	switch {
	case exists(j("data_batch_1.bin")) && exists(j("test_batch.bin")):
		return cifarLayout{train: batches(".bin"), test: []string{j("test_batch.bin")}, meta: j("batches.meta.txt"), binary: true}, true
	case exists(j("train.bin")) && exists(j("test.bin")):
		return cifarLayout{train: []string{j("train.bin")}, test: []string{j("test.bin")}, meta: j("fine_label_names.txt"), binary: true, hundred: true}, true
	case exists(j("data_batch_1")) && exists(j("test_batch")):
		return cifarLayout{train: batches(""), test: []string{j("test_batch")}, meta: j("batches.meta")}, true
	case exists(j("train")) && exists(j("test")) && exists(j("meta")) && !isDir(j("train")):
		return cifarLayout{train: []string{j("train")}, test: []string{j("test")}, meta: j("meta"), hundred: true}, true
	}
	return cifarLayout{}, false
}

// OpenCIFAR opens CIFAR-10 or CIFAR-100, binary or Python version, in dir
// (see the package comment), decoding it into memory.
func OpenCIFAR(dir string) (*Dataset, error) {
	l, ok := detectCIFAR(dir)
	if !ok {
		return nil, fmt.Errorf("%s: no CIFAR files (want data_batch_1.bin and test_batch.bin, train.bin and test.bin, data_batch_1 and test_batch, or train, test and meta)", dir)
	}
	nClasses := 10
	if l.hundred {
		nClasses = 100
	}
	var classes []string
	var err error
	if exists(l.meta) {
		if l.binary {
			classes, err = readClasses(l.meta)
		} else {
			classes, err = readCIFARMeta(l.meta, l.hundred)
		}
		if err != nil {
			return nil, err
		}
		if len(classes) != nClasses {
			return nil, fmt.Errorf("%s: %d class names, want %d", l.meta, len(classes), nClasses)
		}
	} else {
		classes = numbered(nClasses)
	}
	name := "cifar10"
	if l.hundred {
		name = "cifar100"
	}
	d := &Dataset{Name: name, Classes: classes}
	read := readCIFARBin
	if !l.binary {
		read = readCIFARPickle
	}
	if d.Train, err = readCIFARFiles(l.train, l.hundred, nClasses, "train", read); err != nil {
		return nil, err
	}
	if d.Test, err = readCIFARFiles(l.test, l.hundred, nClasses, "test", read); err != nil {
		return nil, err
	}
	return d, nil
}

type cifarReader func(p string, hundred bool) (pix []byte, labels []int, err error)

func readCIFARFiles(files []string, hundred bool, nClasses int, part string, read cifarReader) (*Split, error) {
	s := &Split{w: cifarSide, h: cifarSide, ch: 3, part: part, pix: []byte{}}
	for _, p := range files {
		pix, labels, err := read(p, hundred)
		if err != nil {
			return nil, err
		}
		if err := checkLabels(p, labels, nClasses); err != nil {
			return nil, err
		}
		s.pix = append(s.pix, pix...)
		s.Labels = append(s.Labels, labels...)
	}
	return s, nil
}

// readCIFARBin reads a binary batch: records of a label byte (CIFAR-10) or
// coarse and fine label bytes (CIFAR-100) and 3072 bytes of R, G and B
// planes.
func readCIFARBin(p string, hundred bool) ([]byte, []int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	return parseCIFARBin(p, b, hundred)
}

func parseCIFARBin(p string, b []byte, hundred bool) ([]byte, []int, error) {
	lab := 1
	if hundred {
		lab = 2
	}
	rec := lab + cifarBytes
	if len(b) == 0 || len(b)%rec != 0 {
		return nil, nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte CIFAR records", p, len(b), rec)
	}
	n := len(b) / rec
	pix := make([]byte, n*cifarBytes)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		r := b[i*rec:]
		labels[i] = int(r[lab-1])
		planarToHWC(pix[i*cifarBytes:(i+1)*cifarBytes], r[lab:rec])
	}
	return pix, labels, nil
}

// unpickleFile reads a pickle with datasets.Unpickle.
func unpickleFile(p string) (*types.Dict, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxPickleBytes {
		return nil, fmt.Errorf("%s: pickle of %d bytes is too large for a CIFAR file", p, st.Size())
	}
	if err := memlimit.Check("reading "+p, memlimit.Bytes(st.Size(), 4)); err != nil {
		return nil, err
	}
	v, err := datasets.Unpickle(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	d, ok := v.(*types.Dict)
	if !ok {
		return nil, fmt.Errorf("%s: not a pickled dict", p)
	}
	return d, nil
}

// dictGet looks a key up as Python 3's bytes (what pickle.load with
// encoding="bytes" gives for the original Python 2 files) or as str.
func dictGet(d *types.Dict, key string) (interface{}, bool) {
	for _, e := range *d {
		switch k := e.Key.(type) {
		case string:
			if k == key {
				return e.Value, true
			}
		case []byte:
			if string(k) == key {
				return e.Value, true
			}
		case *types.ByteArray:
			if string(*k) == key {
				return e.Value, true
			}
		}
	}
	return nil, false
}

func listItems(v interface{}) ([]interface{}, bool) {
	switch t := v.(type) {
	case *types.List:
		return *t, true
	case *types.Tuple:
		return *t, true
	}
	return nil, false
}

func stringOf(v interface{}) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case []byte:
		return string(t), true
	case *types.ByteArray:
		return string(*t), true
	}
	return "", false
}

// intsOf reads a list of ints, or a 1-D integer numpy array.
func intsOf(v interface{}) ([]int, bool) {
	if items, ok := listItems(v); ok {
		out := make([]int, len(items))
		for i, it := range items {
			n, ok := it.(int)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	}
	kind, size, big, shape, _, data, ok := datasets.NumpyArray(v)
	if !ok || (kind != 'i' && kind != 'u') || len(shape) != 1 || size > 8 {
		return nil, false
	}
	out := make([]int, shape[0])
	for i := range out {
		b := data[i*size : (i+1)*size]
		var u uint64
		for k := 0; k < size; k++ {
			idx := k
			if !big {
				idx = size - 1 - k
			}
			u = u<<8 | uint64(b[idx])
		}
		if kind == 'i' {
			sh := 64 - 8*uint(size)
			out[i] = int(int64(u<<sh) >> sh)
		} else {
			out[i] = int(u)
		}
	}
	return out, true
}

// readCIFARPickle reads a Python-version batch: a dict with data, a uint8
// N×3072 array of R, G and B planes, and labels (CIFAR-10) or fine_labels
// (CIFAR-100).
func readCIFARPickle(p string, hundred bool) ([]byte, []int, error) {
	d, err := unpickleFile(p)
	if err != nil {
		return nil, nil, err
	}
	return cifarFromDict(p, d, hundred)
}

func cifarFromDict(p string, d *types.Dict, hundred bool) ([]byte, []int, error) {
	dv, ok := dictGet(d, "data")
	if !ok {
		return nil, nil, fmt.Errorf("%s: no data in the pickled dict", p)
	}
	kind, size, _, shape, fortran, data, ok := datasets.NumpyArray(dv)
	if !ok || kind != 'u' || size != 1 || len(shape) != 2 || shape[1] != cifarBytes || fortran {
		return nil, nil, fmt.Errorf("%s: data is not a uint8 N×3072 array in C order", p)
	}
	key := "labels"
	if hundred {
		key = "fine_labels"
	}
	lv, ok := dictGet(d, key)
	if !ok {
		return nil, nil, fmt.Errorf("%s: no %s in the pickled dict", p, key)
	}
	labels, ok := intsOf(lv)
	if !ok {
		return nil, nil, fmt.Errorf("%s: %s is not a list of integers", p, key)
	}
	n := shape[0]
	if len(labels) != n {
		return nil, nil, fmt.Errorf("%s: %d images but %d labels", p, n, len(labels))
	}
	pix := make([]byte, n*cifarBytes)
	for i := 0; i < n; i++ {
		planarToHWC(pix[i*cifarBytes:(i+1)*cifarBytes], data[i*cifarBytes:(i+1)*cifarBytes])
	}
	return pix, labels, nil
}

// readCIFARMeta reads the class names of a Python-version meta file:
// label_names (CIFAR-10) or fine_label_names (CIFAR-100).
func readCIFARMeta(p string, hundred bool) ([]string, error) {
	d, err := unpickleFile(p)
	if err != nil {
		return nil, err
	}
	key := "label_names"
	if hundred {
		key = "fine_label_names"
	}
	v, ok := dictGet(d, key)
	if !ok {
		return nil, fmt.Errorf("%s: no %s in the pickled dict", p, key)
	}
	items, ok := listItems(v)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not a list", p, key)
	}
	out := make([]string, len(items))
	for i, it := range items {
		s, ok := stringOf(it)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("%s: class name %d is not a string", p, i)
		}
		out[i] = s
	}
	return out, nil
}
