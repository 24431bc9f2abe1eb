package imagesets

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// VTABTask is one VTAB-1K task: its folder name as NOAH names it, its
// number of classes and its group.
type VTABTask struct {
	Name    string
	Classes int
	Group   string // "natural", "specialized" or "structured"
}

// VTABTasks are the 19 VTAB-1K tasks in the paper's order, under the
// folder names of NOAH's data/vtab-1k (its lib/datasets.py and configs).
var VTABTasks = []VTABTask{
	{"cifar100", 100, "natural"},
	{"caltech101", 102, "natural"},
	{"dtd", 47, "natural"},
	{"oxford_flowers102", 102, "natural"},
	{"oxford_pet", 37, "natural"},
	{"svhn", 10, "natural"},
	{"sun397", 397, "natural"},
	{"patch_camelyon", 2, "specialized"},
	{"eurosat", 10, "specialized"},
	{"resisc45", 45, "specialized"},
	{"diabetic_retinopathy", 5, "specialized"},
	{"clevr_count", 8, "structured"},
	{"clevr_dist", 6, "structured"},
	{"dmlab", 6, "structured"},
	{"kitti", 4, "structured"},
	{"dsprites_loc", 16, "structured"},
	{"dsprites_ori", 16, "structured"},
	{"smallnorb_azi", 18, "structured"},
	{"smallnorb_ele", 9, "structured"},
}

// vtabAliases are other names of two tasks (VTAB's own and TFDS's).
var vtabAliases = map[string]string{"cifar": "cifar100", "oxford_iiit_pet": "oxford_pet"}

// LookupVTAB finds a VTAB-1K task by NOAH's folder name, or by the
// aliases "cifar" and "oxford_iiit_pet".
func LookupVTAB(name string) (VTABTask, bool) {
	if a, ok := vtabAliases[name]; ok {
		name = a
	}
	for _, t := range VTABTasks {
		if t.Name == name {
			return t, true
		}
	}
	return VTABTask{}, false
}

// The VTAB-1K list files.
const (
	listTrain    = "train800.txt"
	listVal      = "val200.txt"
	listTrainVal = "train800val200.txt"
	listTest     = "test.txt"
	classesFile  = "classes.txt"
)

// maxListBytes bounds a list file (VTAB's largest, sun397's test.txt, is
// about 1 MB).
const maxListBytes = 256 << 20

// listEntry is one line of a list file.
type listEntry struct {
	path  string
	label int
}

// parseList reads "relative/path label" lines; name is the file, for
// errors. Blank lines are skipped; the label is the last blank-separated
// field, the path everything before it. Paths must stay inside the task
// folder.
func parseList(name string, data []byte) ([]listEntry, error) {
	var out []listEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(t) == "" {
			continue
		}
		cut := strings.LastIndexAny(t, " \t")
		if cut < 0 {
			return nil, fmt.Errorf("%s:%d: want \"path label\", got %q", name, line, clip(t))
		}
		p := strings.TrimRight(t[:cut], " \t")
		if p == "" {
			return nil, fmt.Errorf("%s:%d: no path before the label", name, line)
		}
		lab, err := strconv.Atoi(t[cut+1:])
		if err != nil || lab < 0 {
			return nil, fmt.Errorf("%s:%d: label %q is not a non-negative integer", name, line, clip(t[cut+1:]))
		}
		if !filepath.IsLocal(p) {
			return nil, fmt.Errorf("%s:%d: path %q leaves the task folder", name, line, clip(p))
		}
		out = append(out, listEntry{p, lab})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no images listed", name)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func readList(dir, file string) ([]listEntry, error) {
	p := filepath.Join(dir, file)
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxListBytes {
		return nil, fmt.Errorf("%s: list of %d bytes is too large", p, st.Size())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return parseList(p, b)
}

// readClasses reads a classes.txt: one name a line, blank lines ignored
// at the end only.
func readClasses(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxListBytes {
		return nil, fmt.Errorf("%s: too large for a class list", p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			return nil, fmt.Errorf("%s:%d: empty class name", p, i+1)
		}
	}
	return lines, nil
}

// OpenVTAB opens the VTAB-1K task folder <root>/<task>. With final, it
// trains on train800val200.txt and tests on test.txt (the paper's
// protocol); otherwise it trains on train800.txt and tests on
// val200.txt. Images are decoded when asked for. Labels must be below
// the task's class count (for a task not in VTABTasks, the classes are
// the largest label plus one, or classes.txt's).
func OpenVTAB(root, task string, final bool) (*Dataset, error) {
	if task == "" || !filepath.IsLocal(task) {
		return nil, fmt.Errorf("VTAB task name %q is not a folder name", task)
	}
	dir := filepath.Join(root, task)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("VTAB task %s: %w", task, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a folder", dir)
	}
	trainFile, testFile := listTrain, listVal
	if final {
		trainFile, testFile = listTrainVal, listTest
	}
	tr, err := readList(dir, trainFile)
	if err != nil {
		return nil, err
	}
	te, err := readList(dir, testFile)
	if err != nil {
		return nil, err
	}
	var classes []string
	cp := filepath.Join(dir, classesFile)
	if _, err := os.Stat(cp); err == nil {
		if classes, err = readClasses(cp); err != nil {
			return nil, err
		}
	}
	n := len(classes)
	if t, ok := LookupVTAB(task); ok {
		if n != 0 && n != t.Classes {
			return nil, fmt.Errorf("%s: %d class names, but VTAB task %s has %d classes", cp, n, t.Name, t.Classes)
		}
		n = t.Classes
	} else if n == 0 {
		for _, e := range append(append([]listEntry(nil), tr...), te...) {
			n = max(n, e.label+1)
		}
	}
	if classes == nil {
		classes = numbered(n)
	}
	mk := func(file string, es []listEntry) (*Split, error) {
		s := &Split{Labels: make([]int, len(es)), paths: make([]string, len(es)), part: file}
		for i, e := range es {
			if e.label >= n {
				return nil, fmt.Errorf("%s: label %d of %s is outside the task's %d classes", filepath.Join(dir, file), e.label, e.path, n)
			}
			s.Labels[i], s.paths[i] = e.label, filepath.Join(dir, e.path)
		}
		return s, nil
	}
	d := &Dataset{Name: task, Classes: classes}
	if d.Train, err = mk(trainFile, tr); err != nil {
		return nil, err
	}
	if d.Test, err = mk(testFile, te); err != nil {
		return nil, err
	}
	return d, nil
}
