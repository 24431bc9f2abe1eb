package datasets

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/scigolib/hdf5"
)

func TestReadH5MatchesNumpy(t *testing.T) {
	exp := loadExpected(t)
	if len(exp.H5) == 0 {
		t.Fatal("expected.json lists no h5 files")
	}
	for rel, want := range exp.H5 {
		t.Run(rel, func(t *testing.T) {
			pts, labels, err := ReadH5(td(rel))
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) != want.Shape[0] || len(pts[0]) != 3*want.Shape[1] {
				t.Fatalf("got %d samples of %d values, want shape %v", len(pts), len(pts[0]), want.Shape)
			}
			if !equalInts(labels, want.Labels) {
				t.Fatalf("labels %v, want %v", labels, want.Labels)
			}
			if got := sumAll(pts); !near(got, want.Sum, 1e-9) {
				t.Fatalf("sum %v, want %v", got, want.Sum)
			}
			last := pts[len(pts)-1]
			for k := 0; k < 3; k++ {
				if float64(last[len(last)-3+k]) != want.Last[k] {
					t.Fatalf("last point %v, want %v", last[len(last)-3:], want.Last)
				}
			}
		})
	}
}

func TestReadH5Bad(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		file  string
		parts []string
	}{
		{"h5/bad_nodata.h5", []string{"bad_nodata.h5: no dataset 'data' (found: label, points)"}},
		{"h5/bad_nolabel.h5", []string{"bad_nolabel.h5: no dataset 'label' (found: data)"}},
		{"h5/bad_count.h5", []string{"bad_count.h5: 5 labels for 6 samples"}},
		{"h5/bad_rank.h5", []string{"bad_rank.h5: dataset 'data' has shape (6, 192), want (samples, points, 3)"}},
		{"h5/bad_width.h5", []string{"bad_width.h5: dataset 'data' has shape (6, 96, 2)"}},
		{"h5/bad_dtype.h5", []string{"bad_dtype.h5: dataset 'data' holds integer of 4 bytes values, want float32 or float64"}},
		{"h5/bad_label_negative.h5", []string{"bad_label_negative.h5: sample 2 has label -1"}},
		{"h5/bad_label_float.h5", []string{"bad_label_float.h5: sample 2 has label 2.5"}},
		{"h5/bad_nan.h5", []string{"bad_nan.h5: sample 4 has NaN coordinates"}},
		{"h5/bad_truncated.h5", []string{"bad_truncated.h5: not a readable HDF5 file"}},
		{"h5/bad_empty.h5", []string{"bad_empty.h5: empty file"}},
		{"h5/bad_chunk_size.h5", []string{"bad_chunk_size.h5: malformed HDF5 file: the chunk index at offset 1400 claims a chunk of 4294967295 bytes, more than the file holds"}},
		{"h5/bad_heap.h5", []string{"bad_heap.h5: malformed HDF5 file: the local heap at offset 680 claims 17179869184 bytes"}},
		{"h5/bad_text.h5", []string{"bad_text.h5: not a readable HDF5 file"}},
		{"h5/latest_chunked.h5", []string{"latest_chunked.h5: dataset 'data' is stored chunked in the HDF5 1.10+ format", "libver='latest'", "h5repack"}},
		{"h5/missing.h5", []string{"missing.h5", "no such file"}},
		{"h5", []string{"is a folder"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, _, err := ReadH5(td(c.file))
			wantErr(t, err, c.parts...)
		})
	}
	_, _, err := ReadH5(td("h5/latest_chunked.h5"))
	if !errors.Is(err, ErrH5Layout) {
		t.Errorf("libver=latest error %v does not wrap ErrH5Layout", err)
	}
	// A copy of a good file cut at every eighth byte: errors, never panics.
	good, err := os.ReadFile(td("h5/gzip.h5"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(good); n += len(good) / 8 {
		p := filepath.Join(dir, "cut.h5")
		if err := os.WriteFile(p, good[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadH5(p); err == nil {
			t.Errorf("file cut to %d of %d bytes read without error", n, len(good))
		}
	}
}

func TestLoadScanObjectNN(t *testing.T) {
	exp := loadExpected(t)
	root := td("scanobjectnn")
	cases := []struct {
		root, variant, name string
		train, test         string
	}{
		{root, "", "scanobjectnn-hardest", "main_split/training_objectdataset_augmentedrot_scale75.h5", "main_split/test_objectdataset_augmentedrot_scale75.h5"},
		{root, "hardest", "scanobjectnn-hardest", "main_split/training_objectdataset_augmentedrot_scale75.h5", "main_split/test_objectdataset_augmentedrot_scale75.h5"},
		{root, "PB_T50_RS", "scanobjectnn-hardest", "main_split/training_objectdataset_augmentedrot_scale75.h5", "main_split/test_objectdataset_augmentedrot_scale75.h5"},
		{root, "objbg", "scanobjectnn-objbg", "main_split/training_objectdataset.h5", "main_split/test_objectdataset.h5"},
		{root, "OBJ_BG", "scanobjectnn-objbg", "main_split/training_objectdataset.h5", "main_split/test_objectdataset.h5"},
		{root, "objonly", "scanobjectnn-objonly", "main_split_nobg/training_objectdataset.h5", "main_split_nobg/test_objectdataset.h5"},
		{root, "obj_only", "scanobjectnn-objonly", "main_split_nobg/training_objectdataset.h5", "main_split_nobg/test_objectdataset.h5"},
		{filepath.Join(root, "main_split"), "objbg", "scanobjectnn-objbg", "main_split/training_objectdataset.h5", "main_split/test_objectdataset.h5"},
		{filepath.Join(root, "main_split"), "", "scanobjectnn-hardest", "main_split/training_objectdataset_augmentedrot_scale75.h5", "main_split/test_objectdataset_augmentedrot_scale75.h5"},
		{filepath.Join(root, "main_split_nobg"), "", "scanobjectnn-objonly", "main_split_nobg/training_objectdataset.h5", "main_split_nobg/test_objectdataset.h5"},
	}
	for _, c := range cases {
		t.Run(c.root+"/"+c.variant, func(t *testing.T) {
			d, err := LoadScanObjectNN(c.root, c.variant)
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != c.name {
				t.Errorf("name %q, want %q", d.Name, c.name)
			}
			if len(d.Classes) != 15 || d.Classes[0] != "bag" || d.Classes[14] != "toilet" {
				t.Errorf("classes %v", d.Classes)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, sp := range []struct {
				s   *Split
				rel string
			}{{d.Train, c.train}, {d.Test, c.test}} {
				want := exp.H5["scanobjectnn/"+sp.rel]
				if !equalInts(sp.s.Labels, want.Labels) || !near(sumAll(sp.s.Points), want.Sum, 1e-9) {
					t.Errorf("%s: labels %v sum %v, want %v %v", sp.rel, sp.s.Labels, sumAll(sp.s.Points), want.Labels, want.Sum)
				}
				if sp.s.Normals != nil {
					t.Errorf("ScanObjectNN has no normals")
				}
			}
		})
	}

	bad := []struct {
		root, variant string
		parts         []string
	}{
		{root, "nope", []string{`unknown ScanObjectNN variant "nope"`}},
		{filepath.Join(root, "main_split_nobg"), "objbg", []string{"variant objbg lives in main_split/, not main_split_nobg/"}},
		{filepath.Join(root, "main_split"), "objonly", []string{"variant objonly lives in main_split_nobg/"}},
		{td("nowhere"), "", []string{"nowhere: no such folder"}},
		{td("h5"), "objbg", []string{"h5: no ScanObjectNN objbg files", "training_objectdataset.h5"}},
	}
	for _, c := range bad {
		t.Run("bad/"+c.variant, func(t *testing.T) {
			_, err := LoadScanObjectNN(c.root, c.variant)
			wantErr(t, err, c.parts...)
		})
	}
}

func TestLoadScanObjectNNLabelRange(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, td("h5/bad_label_range.h5"), filepath.Join(dir, "training_objectdataset.h5"))
	copyFile(t, td("scanobjectnn/main_split/test_objectdataset.h5"), filepath.Join(dir, "test_objectdataset.h5"))
	_, err := LoadScanObjectNN(dir, "")
	wantErr(t, err, "training_objectdataset.h5: sample 3 has label 15, outside the 15 classes [0,15)")

	// A bad test file is reported too, with its own name.
	dir2 := t.TempDir()
	copyFile(t, td("scanobjectnn/main_split/training_objectdataset.h5"), filepath.Join(dir2, "training_objectdataset.h5"))
	copyFile(t, td("h5/bad_nodata.h5"), filepath.Join(dir2, "test_objectdataset.h5"))
	_, err = LoadScanObjectNN(dir2, "objbg")
	wantErr(t, err, "test_objectdataset.h5: no dataset 'data'")

	// Missing test file.
	dir3 := t.TempDir()
	copyFile(t, td("scanobjectnn/main_split/training_objectdataset.h5"), filepath.Join(dir3, "training_objectdataset.h5"))
	_, err = LoadScanObjectNN(dir3, "objbg")
	wantErr(t, err, "no ScanObjectNN objbg test file", "test_objectdataset.h5")
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseH5Info(t *testing.T) {
	cases := []struct {
		in     string
		class  string
		size   int
		dims   []uint64
		layout string
	}{
		{"Dataset: float (size=4 bytes), 3D array [6 64 3], contiguous (address=0x800, size=4608)", "float", 4, []uint64{6, 64, 3}, "contiguous"},
		{"Dataset: integer (size=8 bytes), 2D array [6 x 1], chunked (chunks=[2 1 8])", "integer", 8, []uint64{6, 1}, "chunked"},
		{"Dataset: integer (size=8 bytes), 1D array [6], compact (size=48)", "integer", 8, []uint64{6}, "compact"},
		{"Dataset: float (size=8 bytes), scalar, contiguous (address=0x1, size=8)", "float", 8, []uint64{}, "contiguous"},
	}
	for _, c := range cases {
		m, err := parseH5Info(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if m.class != c.class || m.size != c.size || m.layout != c.layout || len(m.dims) != len(c.dims) {
			t.Fatalf("%q: got %+v", c.in, m)
		}
		for i := range m.dims {
			if m.dims[i] != c.dims[i] {
				t.Fatalf("%q: dims %v", c.in, m.dims)
			}
		}
	}
	if _, err := parseH5Info("something else"); err == nil {
		t.Fatal("no error for an unknown description")
	}
	huge := &h5Meta{size: 4, dims: []uint64{1 << 40, 1 << 30, 3}, layout: "contiguous"}
	if huge.plausible(1 << 20) {
		t.Fatal("overflowing shape called plausible")
	}
}

// FuzzReadH5 feeds arbitrary bytes, as a file, to ReadH5: it must return
// data or an error, never panic or hang.
func FuzzReadH5(f *testing.F) {
	for _, dir := range []string{td("h5"), td("scanobjectnn", "main_split")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.h5"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.h5")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		pts, labels, err := ReadH5(p)
		if err != nil {
			return
		}
		if len(pts) != len(labels) {
			t.Fatalf("%d samples, %d labels", len(pts), len(labels))
		}
		for i, s := range pts {
			if err := checkSample(s); err != nil {
				t.Fatalf("sample %d %v", i, err)
			}
			if labels[i] < 0 {
				t.Fatalf("negative label")
			}
		}
	})
}

// Point data that happens to spell a local heap header with a huge size is
// not mistaken for one: nothing in the file points at it.
func TestH5PrecheckIgnoresData(t *testing.T) {
	data, err := os.ReadFile(td("scanobjectnn/main_split/training_objectdataset.h5"))
	if err != nil {
		t.Fatal(err)
	}
	at := 0x800 + 4*7 // inside dataset 'data' (contiguous from 0x800)
	copy(data[at:], "HEAP\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f")
	p := filepath.Join(t.TempDir(), "x.h5")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pts, _, err := ReadH5(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pts[0][7], math.Float32frombits(binary.LittleEndian.Uint32([]byte("HEAP"))); got != want {
		t.Fatalf("value %v, want %v", got, want)
	}
}

// A file whose shapes ask for more memory than the machine has is refused
// before anything is read, with the size in the message.
func TestReadH5MemoryLimit(t *testing.T) {
	defer func(f func() int64) { h5MemoryLimit = f }(h5MemoryLimit)
	h5MemoryLimit = func() int64 { return 1000 }
	_, _, err := ReadH5(td("h5/gzip.h5"))
	wantErr(t, err, "gzip.h5: dataset 'data' of shape (6, 64, 3) would take 4.5 KiB (4656 bytes) as float32, more than the 1000 B this machine has")
}

// writeChunkedH5 writes a ScanObjectNN-style file of n samples of p
// points, chunked by rows samples and gzip-compressed.
func writeChunkedH5(t testing.TB, path string, n, p, rows int) []float32 {
	fw, err := hdf5.CreateForWrite(path, hdf5.CreateTruncate)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]float32, n*p*3)
	for i := range data {
		data[i] = float32(i%1013) / 1013
	}
	dw, err := fw.CreateDataset("/data", hdf5.Float32, []uint64{uint64(n), uint64(p), 3},
		hdf5.WithChunkDims([]uint64{uint64(rows), uint64(p), 3}), hdf5.WithGZIPCompression(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := dw.Write(data); err != nil {
		t.Fatal(err)
	}
	labels := make([]int64, n)
	lw, err := fw.CreateDataset("/label", hdf5.Int64, []uint64{uint64(n)})
	if err != nil {
		t.Fatal(err)
	}
	if err := lw.Write(labels); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

// Reading chunked data takes about the result's size: the live heap grows
// by little more than the float32 points (it took about three times that
// when the dataset was read whole). The heap is sampled, not asserted on
// time.
func TestReadH5ChunkedMemory(t *testing.T) {
	const n, p = 2000, 2048 // 49 MB of float32
	path := filepath.Join(t.TempDir(), "big.h5")
	want := writeChunkedH5(t, path, n, p, 40)
	defer func(v int) { h5WholeValues = v }(h5WholeValues)
	h5WholeValues = 0 // as for a dataset too large to read whole
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	// Sample the live heap while reading.
	done, peak := make(chan struct{}), make(chan uint64)
	go func() {
		var m runtime.MemStats
		top := uint64(0)
		for {
			runtime.ReadMemStats(&m)
			top = max(top, m.HeapAlloc)
			select {
			case <-done:
				peak <- top
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	pts, _, err := ReadH5(path)
	close(done)
	top := <-peak
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range pts {
		for j, v := range s {
			if v != want[i*3*p+j] {
				t.Fatalf("sample %d value %d is %v, want %v", i, j, v, want[i*3*p+j])
			}
		}
	}
	size := uint64(4 * len(want))
	if grew := top - base.HeapAlloc; grew > size+size/4+32<<20 {
		t.Errorf("reading %d bytes of points grew the live heap by %d bytes at peak", size, grew)
	}
}

// A compressed chunk that inflates to more than its shape holds is refused
// before the library inflates it whole.
func TestReadH5ChunkBomb(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.h5")
	writeChunkedH5(t, path, 8, 256, 2) // chunks of 2×256×3 float32: 6144 bytes
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The first chunk's address: the child of the first entry of the chunk
	// index (signature, type, level, entries, two siblings, one key of
	// 8+8·4 bytes, with 8-byte addresses).
	at := bytes.Index(data, []byte("TREE\x01\x00"))
	if at < 0 {
		t.Fatal("no chunk index")
	}
	addr := binary.LittleEndian.Uint64(data[at+8+16+40:])
	stored := binary.LittleEndian.Uint32(data[at+8+16:])
	var bomb bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&bomb, zlib.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	if bomb.Len() > int(stored) {
		t.Fatalf("bomb of %d bytes does not fit the chunk's %d", bomb.Len(), stored)
	}
	copy(data[addr:], bomb.Bytes())
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadH5(path)
	wantErr(t, err, fmt.Sprintf("bomb.h5: malformed HDF5 file: the compressed chunk at offset %d inflates to more than 6144 bytes, its shape [2 256 3] holds 6144", addr))
}

// A dataset compressed with a filter the reader lacks names the filter,
// rather than blaming the file's format or a truncated chunk.
func TestReadH5UnsupportedFilter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blosc.h5")
	writeChunkedH5(t, path, 8, 256, 2)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The filter pipeline message, version 1 with one filter: deflate (1).
	pat := []byte("\x01\x01\x00\x00\x00\x00\x00\x00\x01\x00")
	if bytes.Count(data, pat) != 1 {
		t.Fatal("no single filter pipeline message")
	}
	i := bytes.Index(data, pat)
	binary.LittleEndian.PutUint16(data[i+8:], 32001)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadH5(path)
	wantErr(t, err, "blosc.h5: dataset 'data' is compressed with the blosc filter (HDF5 filter 32001), which the pure-Go HDF5 reader does not support")
	if !errors.Is(err, ErrH5Filter) || errors.Is(err, ErrH5Layout) {
		t.Errorf("error %v does not wrap ErrH5Filter alone", err)
	}
}
