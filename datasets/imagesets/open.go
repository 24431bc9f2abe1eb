package imagesets

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Options configure Open.
type Options struct {
	// Task is the VTAB-1K task when spec is the VTAB-1K root (the folder
	// holding the task folders).
	Task string
	// Final selects VTAB-1K's final protocol (train800val200 / test)
	// instead of train800 / val200.
	Final bool
	// TestFraction and Seed split an image folder without train/ and
	// test/ (OpenFolder).
	TestFraction float64
	Seed         uint64
	// Fashion names idx classes as Fashion-MNIST's even when the path
	// does not mention it.
	Fashion bool
}

// Kind names the layouts Open recognises.
const (
	KindVTAB        = "vtab"
	KindIDX         = "idx"
	KindCIFARBinary = "cifar-binary"
	KindCIFARPython = "cifar-python"
	KindFolder      = "folder"
)

// Detect says which layout the folder dir holds, for Open: a VTAB-1K task
// folder (or, with task, the root holding it), idx files, CIFAR binary or
// Python files, or class folders of images; "" and an error listing what
// it looked for when none.
func Detect(dir, task string) (string, error) {
	if !isDir(dir) {
		return "", fmt.Errorf("%s: not a folder", dir)
	}
	if task != "" && exists(filepath.Join(dir, task, listTrain)) {
		return KindVTAB, nil
	}
	if exists(filepath.Join(dir, listTrain)) || exists(filepath.Join(dir, listTrainVal)) {
		return KindVTAB, nil
	}
	if _, err := findIDX(dir, "train", "images-idx3"); err == nil {
		return KindIDX, nil
	}
	if l, ok := detectCIFAR(dir); ok {
		if l.binary {
			return KindCIFARBinary, nil
		}
		return KindCIFARPython, nil
	}
	if cs, err := classDirs(dir); err == nil && len(cs) > 0 {
		var tasks []string
		for _, c := range cs {
			if exists(filepath.Join(dir, c, listTrain)) || exists(filepath.Join(dir, c, listTrainVal)) {
				tasks = append(tasks, c)
			}
		}
		if len(tasks) > 0 {
			return "", fmt.Errorf("%s: a VTAB-1K root holding the tasks %s; name one (Options.Task) or open its folder", dir, strings.Join(tasks, ", "))
		}
		return KindFolder, nil
	}
	what := "a VTAB-1K task folder (train800.txt, val200.txt, train800val200.txt, test.txt)"
	if task != "" {
		what = fmt.Sprintf("a VTAB-1K task folder %s/ or one with train800.txt", task)
	}
	return "", fmt.Errorf("%s: not a known image collection; looked for %s, idx files (train-images-idx3-ubyte[.gz]), CIFAR binary (data_batch_1.bin, train.bin) or Python (data_batch_1, train and meta) files, and class folders of images", dir, what)
}

// Open opens the image collection in the folder spec, whichever layout
// Detect finds. A VTAB-1K task is either spec itself (a folder with the
// list files; the task is its name) or opt.Task under spec.
func Open(spec string, opt Options) (*Dataset, error) {
	kind, err := Detect(spec, opt.Task)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindVTAB:
		if opt.Task != "" && exists(filepath.Join(spec, opt.Task, listTrain)) {
			return OpenVTAB(spec, opt.Task, opt.Final)
		}
		abs, err := filepath.Abs(spec)
		if err != nil {
			return nil, err
		}
		return OpenVTAB(filepath.Dir(abs), filepath.Base(abs), opt.Final)
	case KindIDX:
		abs, _ := filepath.Abs(spec)
		return OpenIDXNamed(spec, opt.Fashion || strings.Contains(strings.ToLower(abs), "fashion"))
	case KindCIFARBinary, KindCIFARPython:
		return OpenCIFAR(spec)
	}
	return OpenFolder(spec, opt.TestFraction, opt.Seed)
}
