package imagesets

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/datasets"
)

func TestVTABTasks(t *testing.T) {
	if len(VTABTasks) != 19 {
		t.Fatalf("%d VTAB tasks, want 19", len(VTABTasks))
	}
	groups := map[string]int{}
	total := 0
	for _, task := range VTABTasks {
		groups[task.Group]++
		total += task.Classes
	}
	if groups["natural"] != 7 || groups["specialized"] != 4 || groups["structured"] != 8 {
		t.Fatalf("groups %v, want 7 natural, 4 specialized, 8 structured", groups)
	}
	if total != 100+102+47+102+37+10+397+2+10+45+5+8+6+6+4+16+16+18+9 {
		t.Fatalf("class counts sum to %d", total)
	}
	for _, n := range []string{"cifar", "cifar100", "oxford_iiit_pet", "oxford_pet", "sun397"} {
		if _, ok := LookupVTAB(n); !ok {
			t.Errorf("LookupVTAB(%q) failed", n)
		}
	}
	if task, _ := LookupVTAB("oxford_iiit_pet"); task.Classes != 37 {
		t.Error("oxford_iiit_pet is not 37 classes")
	}
}

func TestParseList(t *testing.T) {
	es, err := parseList("l.txt", []byte("images/a.jpg 3\r\n\nimages/with space.png\t12\nb.png 0  \n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []listEntry{{"images/a.jpg", 3}, {"images/with space.png", 12}, {"b.png", 0}}
	if !reflect.DeepEqual(es, want) {
		t.Fatalf("got %v", es)
	}
	for in, msg := range map[string]string{
		"a.png 1\nnolabel\n":           "l.txt:2:",
		"a.png x\n":                    "l.txt:1:",
		"a.png -1\n":                   "l.txt:1:",
		"../etc/passwd 1\n":            "leaves the task folder",
		"/abs/path.png 1\n":            "leaves the task folder",
		"\n\n":                         "no images",
		" 5\n":                         "l.txt:1:",
		"a.png 99999999999999999999\n": "l.txt:1:",
	} {
		_, err := parseList("l.txt", []byte(in))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want an error with %q", in, err, msg)
		}
	}
}

// makeVTAB writes a VTAB-1K task folder with n images per list.
func makeVTAB(t *testing.T, root, task string, classes int) {
	dir := filepath.Join(root, task)
	lists := map[string]string{}
	for _, l := range []string{listTrain, listVal, listTest} {
		var b strings.Builder
		for i := 0; i < 4; i++ {
			rel := fmt.Sprintf("images/%s_%d.png", strings.TrimSuffix(l, ".txt"), i)
			writeFileT(t, filepath.Join(dir, rel), pngOf(t, 3+i, 2, solid(uint8(10*i))))
			fmt.Fprintf(&b, "%s %d\n", rel, (i*5)%classes)
		}
		lists[l] = b.String()
	}
	lists[listTrainVal] = lists[listTrain] + lists[listVal]
	for l, s := range lists {
		writeFileT(t, filepath.Join(dir, l), []byte(s))
	}
}

func TestOpenVTAB(t *testing.T) {
	root := t.TempDir()
	makeVTAB(t, root, "dtd", 47)
	d, err := OpenVTAB(root, "dtd", true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 8 || d.Test.Len() != 4 || len(d.Classes) != 47 || d.Classes[5] != "5" {
		t.Fatalf("final: %d train, %d test, %d classes", d.Train.Len(), d.Test.Len(), len(d.Classes))
	}
	if !strings.HasSuffix(d.Test.Name(2), "images/test_2.png") || d.Test.Labels[2] != 10 {
		t.Fatalf("test[2] = %s label %d", d.Test.Name(2), d.Test.Labels[2])
	}
	m, err := d.Test.Image(2)
	if err != nil || m.W != 5 || m.H != 2 || m.Pix[0] != 20 || m.Pix[3+1] != 1 {
		t.Fatalf("test[2] image %+v %v", m, err)
	}
	d, err = OpenVTAB(root, "dtd", false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 4 || !strings.HasSuffix(d.Test.Name(0), "val200_0.png") {
		t.Fatalf("non-final: %d train, test %s", d.Train.Len(), d.Test.Name(0))
	}
	// kitti has 4 classes: label 5 is out of range, and the error names the list.
	makeVTAB(t, root, "kitti", 8)
	_, err = OpenVTAB(root, "kitti", true)
	if err == nil || !strings.Contains(err.Error(), listTrainVal) || !strings.Contains(err.Error(), "4 classes") {
		t.Fatalf("got %v, want a label range error naming %s", err, listTrainVal)
	}
	if _, err := OpenVTAB(root, "svhn", true); err == nil {
		t.Fatal("missing task opened")
	}
	if _, err := OpenVTAB(root, "../x", true); err == nil {
		t.Fatal("task name leaving the root accepted")
	}
	// A missing image fails when read, naming the file.
	os.Remove(filepath.Join(root, "dtd", "images", "test_1.png"))
	d, _ = OpenVTAB(root, "dtd", true)
	if _, err := d.Test.Image(1); err == nil || !strings.Contains(err.Error(), "test_1.png") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenFolder(t *testing.T) {
	dir := t.TempDir()
	for c, n := range map[string]int{"cat": 10, "dog": 7, "ant": 3} {
		for i := 0; i < n; i++ {
			ext := []string{".png", ".PNG", ".Png"}[i%3]
			writeFileT(t, filepath.Join(dir, c, fmt.Sprintf("%02d%s", i, ext)), pngOf(t, 2, 2, solid(uint8(i))))
		}
	}
	writeFileT(t, filepath.Join(dir, "cat", "notes.txt"), []byte("x"))
	writeFileT(t, filepath.Join(dir, "cat", ".hidden.png"), []byte("x"))
	writeFileT(t, filepath.Join(dir, ".git", "x.png"), []byte("x"))
	d, err := OpenFolder(dir, 0.3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Classes, []string{"ant", "cat", "dog"}) {
		t.Fatalf("classes %v", d.Classes)
	}
	// round(0.3·3)=1, round(0.3·10)=3, round(0.3·7)=2.
	if d.Train.Len() != 14 || d.Test.Len() != 6 {
		t.Fatalf("%d train, %d test; want 14 and 6", d.Train.Len(), d.Test.Len())
	}
	for i := 0; i < d.Train.Len(); i++ {
		if _, err := d.Train.Image(i); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := OpenFolder(dir, 0.3, 1)
	other, _ := OpenFolder(dir, 0.3, 2)
	if !reflect.DeepEqual(d.Test.paths, again.Test.paths) {
		t.Fatal("the split is not deterministic")
	}
	if reflect.DeepEqual(d.Test.paths, other.Test.paths) {
		t.Fatal("seeds 1 and 2 split alike")
	}
	// train/ and test/ layout.
	dir2 := t.TempDir()
	writeFileT(t, filepath.Join(dir2, "train", "b", "1.jpg"), mustRead(t, filepath.Join(goldenDir, "rgb.jpg")))
	writeFileT(t, filepath.Join(dir2, "train", "a", "x", "2.png"), pngOf(t, 2, 2, solid(1)))
	writeFileT(t, filepath.Join(dir2, "test", "c", "3.jpeg"), mustRead(t, filepath.Join(goldenDir, "grey.jpg")))
	d, err = OpenFolder(dir2, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Classes, []string{"a", "b", "c"}) || d.Train.Len() != 2 || d.Test.Len() != 1 || d.Test.Labels[0] != 2 {
		t.Fatalf("train/test layout: %v %d %d", d.Classes, d.Train.Len(), d.Test.Len())
	}
	if _, err := OpenFolder(t.TempDir(), 0.2, 0); err == nil {
		t.Fatal("empty folder opened")
	}
	if _, err := OpenFolder(dir, 1.5, 0); err == nil {
		t.Fatal("test fraction 1.5 accepted")
	}
}

func mustRead(t testing.TB, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenIDX(t *testing.T) {
	for _, zip := range []bool{false, true} {
		dir := t.TempDir()
		writeIDXSet(t, dir, 12, 5, 4, 3, zip)
		d, err := OpenIDX(dir)
		if err != nil {
			t.Fatal(err)
		}
		if d.Train.Len() != 12 || d.Test.Len() != 5 || d.Classes[3] != "3" || !d.Train.InMemory() {
			t.Fatalf("%d/%d %v", d.Train.Len(), d.Test.Len(), d.Classes)
		}
		m, err := d.Train.Image(11)
		if err != nil || m.W != 4 || m.H != 3 {
			t.Fatal(err)
		}
		// Pixel (x=2, y=1) of image 11 is 14 in all three channels.
		if p := m.Pix[3*(1*4+2):]; p[0] != 14 || p[1] != 14 || p[2] != 14 || d.Train.Labels[11] != 1 {
			t.Fatalf("pixel %v label %d", p[:3], d.Train.Labels[11])
		}
		if d.Train.Name(3) != "train[3]" || d.Test.Name(1) != "test[1]" {
			t.Fatal(d.Train.Name(3))
		}
		m.Pix[0] = 99
		if m2, _ := d.Train.Image(11); m2.Pix[0] == 99 {
			t.Fatal("Image returns shared memory")
		}
	}
	dir := t.TempDir()
	writeIDXSet(t, filepath.Join(dir, "FashionMNIST"), 2, 2, 2, 2, false)
	d, err := OpenIDX(filepath.Join(dir, "FashionMNIST"))
	if err != nil || d.Classes[9] != "Ankle boot" {
		t.Fatalf("Fashion names: %v %v", d, err)
	}
}

func TestIDXErrors(t *testing.T) {
	dir := t.TempDir()
	writeIDXSet(t, dir, 3, 2, 2, 2, false)
	p := filepath.Join(dir, "train-images-idx3-ubyte")
	good := mustRead(t, p)
	cases := map[string][]byte{
		"huge count":      idxBytes([]int{1 << 30, 28, 28}, nil),
		"truncated":       good[:len(good)-1],
		"extra":           append(append([]byte(nil), good...), 0),
		"bad magic":       append([]byte{1}, good[1:]...),
		"short":           good[:7],
		"zero":            idxBytes([]int{0, 2, 2}, nil),
		"huge gz":         gz(idxBytes([]int{1 << 30, 1 << 14, 1 << 14}, nil)),
		"count != labels": idxBytes([]int{4, 2, 2}, make([]byte, 16)),
	}
	for name, b := range cases {
		writeFileT(t, p, b)
		_, err := OpenIDX(dir)
		if err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
	writeFileT(t, p, good)
	lp := filepath.Join(dir, "train-labels-idx1-ubyte")
	writeFileT(t, lp, idxBytes([]int{3}, []byte{1, 10, 2}))
	if _, err := OpenIDX(dir); err == nil || !strings.Contains(err.Error(), "label 10") {
		t.Errorf("label 10: got %v", err)
	}
	os.Remove(lp)
	if _, err := OpenIDX(dir); err == nil || !strings.Contains(err.Error(), "train-labels-idx1-ubyte") {
		t.Errorf("missing labels: got %v", err)
	}
}

// TestFashionMNIST reads the real Fashion-MNIST where it is installed.
func TestFashionMNIST(t *testing.T) {
	dir := "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(filepath.Join(dir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST is not installed at", dir)
	}
	d, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 60000 || d.Test.Len() != 10000 || d.Classes[0] != "T-shirt/top" {
		t.Fatalf("%d train, %d test, classes %v", d.Train.Len(), d.Test.Len(), d.Classes)
	}
	count := make([]int, 10)
	for _, l := range d.Train.Labels {
		count[l]++
	}
	for c, n := range count {
		if n != 6000 {
			t.Fatalf("class %d has %d training images, want 6000", c, n)
		}
	}
	// The first training image is an ankle boot.
	if d.Train.Labels[0] != 9 {
		t.Fatalf("train[0] label %d, want 9", d.Train.Labels[0])
	}
	m, err := d.Test.Image(9999)
	if err != nil || m.W != 28 || m.H != 28 {
		t.Fatal(err)
	}
}

// cifarRecord is a CIFAR record with the fixture's pixel pattern.
func cifarPix(i int) []byte {
	b := make([]byte, 3072)
	for c := 0; c < 3; c++ {
		for j := 0; j < 1024; j++ {
			b[c*1024+j] = byte(i*7 + c*50 + j)
		}
	}
	return b
}

// checkCIFARImage checks image k of s against cifarPix(i): HWC of the
// planar record.
func checkCIFARImage(t *testing.T, s *Split, k, i int) {
	t.Helper()
	m, err := s.Image(k)
	if err != nil {
		t.Fatal(err)
	}
	want := cifarPix(i)
	for j := 0; j < 1024; j++ {
		for c := 0; c < 3; c++ {
			if m.Pix[3*j+c] != want[c*1024+j] {
				t.Fatalf("%s image %d pixel %d channel %d: %d, want %d", s.part, k, j, c, m.Pix[3*j+c], want[c*1024+j])
			}
		}
	}
}

func TestOpenCIFARBinary(t *testing.T) {
	dir := t.TempDir()
	k := 0
	for b := 1; b <= 5; b++ {
		var buf []byte
		for r := 0; r < 2; r++ {
			buf = append(append(buf, byte(k%10)), cifarPix(k)...)
			k++
		}
		writeFileT(t, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", b)), buf)
	}
	writeFileT(t, filepath.Join(dir, "test_batch.bin"), append([]byte{7}, cifarPix(10)...))
	writeFileT(t, filepath.Join(dir, "batches.meta.txt"), []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"))
	d, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 10 || d.Test.Len() != 1 || d.Classes[9] != "truck" || d.Test.Labels[0] != 7 || d.Train.Labels[3] != 3 {
		t.Fatalf("cifar10: %d %d %v", d.Train.Len(), d.Test.Len(), d.Classes)
	}
	checkCIFARImage(t, d.Train, 7, 7)
	checkCIFARImage(t, d.Test, 0, 10)
	writeFileT(t, filepath.Join(dir, "test_batch.bin"), append([]byte{7}, cifarPix(10)[:3000]...))
	if _, err := OpenCIFAR(dir); err == nil || !strings.Contains(err.Error(), "test_batch.bin") {
		t.Fatalf("truncated batch: %v", err)
	}
	writeFileT(t, filepath.Join(dir, "test_batch.bin"), append([]byte{10}, cifarPix(10)...))
	if _, err := OpenCIFAR(dir); err == nil || !strings.Contains(err.Error(), "test_batch.bin") {
		t.Fatalf("label 10: %v", err)
	}
	// CIFAR-100: coarse and fine labels; the fine one is used.
	dir = t.TempDir()
	writeFileT(t, filepath.Join(dir, "train.bin"), append([]byte{3, 99}, cifarPix(0)...))
	writeFileT(t, filepath.Join(dir, "test.bin"), append(append([]byte{4, 42}, cifarPix(1)...), append([]byte{5, 0}, cifarPix(2)...)...))
	d, err = OpenCIFAR(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Classes) != 100 || d.Train.Labels[0] != 99 || d.Test.Labels[0] != 42 || d.Test.Labels[1] != 0 {
		t.Fatalf("cifar100 labels %v %v", d.Train.Labels, d.Test.Labels)
	}
	checkCIFARImage(t, d.Test, 1, 2)
}

func TestOpenCIFARPython(t *testing.T) {
	d, err := Open(filepath.Join(goldenDir, "cifar10-py"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 5 || d.Test.Len() != 2 || d.Classes[1] != "automobile" {
		t.Fatalf("cifar10-py: %d %d %v", d.Train.Len(), d.Test.Len(), d.Classes)
	}
	for i := 0; i < 5; i++ {
		if d.Train.Labels[i] != (3*i+1)%10 {
			t.Fatalf("train labels %v", d.Train.Labels)
		}
		checkCIFARImage(t, d.Train, i, i)
	}
	checkCIFARImage(t, d.Test, 1, 6)
	if d.Test.Labels[1] != (3*5+4)%10 {
		t.Fatalf("test labels %v", d.Test.Labels)
	}
	d, err = OpenCIFAR(filepath.Join(goldenDir, "cifar100-py"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "cifar100" || d.Train.Len() != 3 || d.Test.Len() != 1 || d.Classes[42] != "class42" || d.Test.Labels[0] != 10 || d.Train.Labels[2] != 7 {
		t.Fatalf("cifar100-py: %v %v %v", d.Train.Labels, d.Test.Labels, d.Classes[:3])
	}
	checkCIFARImage(t, d.Train, 2, 2)
	checkCIFARImage(t, d.Test, 0, 3)
	// A pickle that calls os.system is refused, not run.
	dir := t.TempDir()
	for _, f := range []string{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"} {
		writeFileT(t, filepath.Join(dir, f), mustRead(t, filepath.Join(goldenDir, "cifar10-py", f)))
	}
	writeFileT(t, filepath.Join(dir, "data_batch_3"), mustRead(t, filepath.Join(goldenDir, "evil.pickle")))
	_, err = OpenCIFAR(dir)
	if err == nil || !strings.Contains(err.Error(), "data_batch_3") || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("evil pickle: %v", err)
	}
	v, err := datasets.Unpickle(bytes.NewReader(mustRead(t, filepath.Join(goldenDir, "cifar10-py", "test_batch"))), 9483)
	if err != nil || v == nil {
		t.Fatal(err)
	}
}

func TestExportVTAB1K(t *testing.T) {
	src := t.TempDir()
	writeIDXSet(t, src, 40, 9, 5, 4, true)
	d, err := OpenIDX(src)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := ExportVTAB1K(d, root, "mini", 7, 20, 10, 6); err != nil {
		t.Fatal(err)
	}
	if err := ExportVTAB1K(d, root, "mini", 7, 20, 10, 6); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "mini")) {
		t.Fatalf("overwrite: %v", err)
	}
	if err := ExportVTAB1K(d, root, "big", 7, 35, 10, 0); err == nil {
		t.Fatal("45 of 40 training images exported")
	}
	if _, err := os.Stat(filepath.Join(root, "big")); err == nil {
		t.Fatal("a failed export left its folder")
	}
	e, err := Open(filepath.Join(root, "mini"), Options{Final: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.Train.Len() != 30 || e.Test.Len() != 6 || !reflect.DeepEqual(e.Classes, d.Classes) {
		t.Fatalf("final export: %d train, %d test, %v", e.Train.Len(), e.Test.Len(), e.Classes)
	}
	if _, err := Open(root, Options{}); err == nil || !strings.Contains(err.Error(), "Options.Task") {
		t.Fatalf("VTAB root without a task: %v", err)
	}
	nf, err := Open(root, Options{Task: "mini"})
	if err != nil {
		t.Fatal(err)
	}
	if nf.Train.Len() != 20 || nf.Test.Len() != 10 {
		t.Fatalf("train800/val200: %d %d", nf.Train.Len(), nf.Test.Len())
	}
	seen := map[string]bool{}
	for _, s := range []*Split{nf.Train, nf.Test} {
		for i := 0; i < s.Len(); i++ {
			if seen[s.Name(i)] {
				t.Fatalf("%s is in both train800 and val200", s.Name(i))
			}
			seen[s.Name(i)] = true
		}
	}
	// Every exported image is the original, with its label.
	for _, s := range []*Split{e.Train, e.Test} {
		for i := 0; i < s.Len(); i++ {
			part, num, _ := strings.Cut(strings.TrimSuffix(filepath.Base(s.Name(i)), ".png"), "_")
			k, err := strconv.Atoi(num)
			if err != nil {
				t.Fatal(err)
			}
			orig := d.Train
			if part == "test" {
				orig = d.Test
			}
			a, err := s.Image(i)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := orig.Image(k)
			if !bytes.Equal(a.Pix, b.Pix) || s.Labels[i] != orig.Labels[k] {
				t.Fatalf("%s differs from %s[%d]", s.Name(i), orig.part, k)
			}
		}
	}
	// The same seed picks the same images; another seed others.
	if err := ExportVTAB1K(d, root, "again", 7, 20, 10, 6); err != nil {
		t.Fatal(err)
	}
	if err := ExportVTAB1K(d, root, "other", 8, 20, 10, 6); err != nil {
		t.Fatal(err)
	}
	a := mustRead(t, filepath.Join(root, "mini", listTrainVal))
	b := mustRead(t, filepath.Join(root, "again", listTrainVal))
	c := mustRead(t, filepath.Join(root, "other", listTrainVal))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("picks are not a function of the seed")
	}
}

func TestOpenDetect(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, filepath.Join(dir, "readme.txt"), []byte("x"))
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "idx") || !strings.Contains(err.Error(), "CIFAR") || !strings.Contains(err.Error(), "train800.txt") {
		t.Fatalf("got %v, want an error listing the layouts", err)
	}
	if _, err := Open(filepath.Join(dir, "nope"), Options{}); err == nil {
		t.Fatal("missing folder opened")
	}
	writeFileT(t, filepath.Join(dir, "a", "1.png"), pngOf(t, 1, 1, solid(1)))
	if k, _ := Detect(dir, ""); k != KindFolder {
		t.Fatalf("detected %q", k)
	}
	if k, _ := Detect(filepath.Join(goldenDir, "cifar100-py"), ""); k != KindCIFARPython {
		t.Fatalf("detected %q", k)
	}
}
