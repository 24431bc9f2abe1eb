package datasets

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/pointcloud"
)

// npyBytes is a version 1 .npy file with the given header dict.
func npyBytes(dict string, data []byte) []byte {
	header := dict + strings.Repeat(" ", 64) + "\n"
	b := append([]byte(npyMagic), 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	return append(append(b, header...), data...)
}

// A Fortran-ordered data array (as numpy.asfortranarray saves it) reads
// like the C-ordered one.
func TestLoadNPYFortranOrder(t *testing.T) {
	const n, p = 2, 4
	vals := make([]float32, n*p*3)
	for i := range vals {
		vals[i] = float32(i)
	}
	var cdata, fdata []byte
	for _, v := range vals {
		cdata = binary.LittleEndian.AppendUint32(cdata, math.Float32bits(v))
	}
	for c := 0; c < 3; c++ {
		for b := 0; b < p; b++ {
			for a := 0; a < n; a++ {
				fdata = binary.LittleEndian.AppendUint32(fdata, math.Float32bits(vals[a*3*p+b*3+c]))
			}
		}
	}
	labels := npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", int64Bytes([]int{1, 0}))
	for name, data := range map[string][]byte{
		"C":       npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 3), }", cdata),
		"Fortran": npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4, 3), }", fdata),
	} {
		dir := t.TempDir()
		writeBytes(t, filepath.Join(dir, "d.npy"), data)
		writeBytes(t, filepath.Join(dir, "l.npy"), labels)
		s, err := readNPYSplit(filepath.Join(dir, "d.npy"), filepath.Join(dir, "l.npy"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range s.Points {
			for k, v := range s.Points[i] {
				if v != vals[i*3*p+k] {
					t.Fatalf("%s order: sample %d value %d is %v, want %v", name, i, k, v, vals[i*3*p+k])
				}
			}
		}
		if !equalInts(s.Labels, []int{1, 0}) {
			t.Fatalf("%s order: labels %v", name, s.Labels)
		}
	}
}

func writeBytes(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzReadNPYSplit feeds arbitrary bytes as the data file of LoadNPY's
// reader: samples that match the labels or an error, never a panic.
func FuzzReadNPYSplit(f *testing.F) {
	f.Add(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 3), }", float32Bytes([][]float32{{1, 2, 3}, {4, 5, 6}})))
	f.Add(npyBytes("{'descr': '>f8', 'fortran_order': True, 'shape': (2, 1, 3), }", make([]byte, 48)))
	labels := npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", int64Bytes([]int{3, 7}))
	f.Fuzz(func(t *testing.T, b []byte) {
		files := map[string][]byte{"d.npy": b, "l.npy": labels}
		read := func(path string, check func(*pointcloud.NPYArray) error) (*pointcloud.NPYArray, error) {
			return pointcloud.ReadNPYArray(bytes.NewReader(files[path]), int64(len(files[path])), check)
		}
		s, err := npySplit("d.npy", "l.npy", read)
		if err != nil {
			return
		}
		if len(s.Points) != 2 || !equalInts(s.Labels, []int{3, 7}) {
			t.Fatalf("%d samples, labels %v", len(s.Points), s.Labels)
		}
		for i, p := range s.Points {
			if err := checkSample(p); err != nil {
				t.Fatalf("sample %d %v", i, err)
			}
		}
	})
}
