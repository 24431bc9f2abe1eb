package datasets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
)

// The npy layout Export writes and LoadNPY reads: per split,
// <split>_data.npy (float32, samples × points × 3) and <split>_label.npy
// (int64, samples), plus shape_names.txt.

const npyMagic = "\x93NUMPY"

// readNPYFile reads a .npy file with pointcloud.ReadNPYArray, checking
// its shape with check before the data is read; errors name the file.
func readNPYFile(path string, check func(*pointcloud.NPYArray) error) (*pointcloud.NPYArray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	a, err := pointcloud.ReadNPYArray(f, st.Size(), check)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// writeNPY writes a C-ordered array atomically.
func writeNPY(path, descr string, shape []int, data []byte) error {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh)
	// Pad so that the data starts on a 64-byte boundary, ending in '\n'.
	total := len(npyMagic) + 4 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	return pointcloud.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString(npyMagic)
		bw.Write([]byte{1, 0})
		binary.Write(bw, binary.LittleEndian, uint16(len(header)))
		bw.WriteString(header)
		bw.Write(data)
		return bw.Flush()
	})
}

// LoadNPY loads the npy layout that Export writes: in dir,
// {train,test}_data.npy (float, samples × points × 3),
// {train,test}_label.npy (integers, samples) and shape_names.txt. Without
// shape_names.txt the classes are named by number.
func LoadNPY(dir string) (*Dataset, error) {
	d := &Dataset{Name: filepath.Base(filepath.Clean(dir))}
	var maxLabel = -1
	for _, sp := range []struct {
		name string
		dst  **Split
	}{{"train", &d.Train}, {"test", &d.Test}} {
		s, err := readNPYSplit(filepath.Join(dir, sp.name+"_data.npy"), filepath.Join(dir, sp.name+"_label.npy"))
		if err != nil {
			return nil, err
		}
		for _, l := range s.Labels {
			maxLabel = max(maxLabel, l)
		}
		*sp.dst = s
	}
	if names := filepath.Join(dir, "shape_names.txt"); isFile(names) {
		data, err := os.ReadFile(names)
		if err != nil {
			return nil, err
		}
		if d.Classes, err = parseShapeNames(names, data); err != nil {
			return nil, err
		}
		if maxLabel >= len(d.Classes) {
			return nil, fmt.Errorf("%s: label %d outside the %d classes of %s", dir, maxLabel, len(d.Classes), names)
		}
	} else {
		for i := 0; i <= maxLabel; i++ {
			d.Classes = append(d.Classes, strconv.Itoa(i))
		}
	}
	return d, nil
}

func readNPYSplit(dataPath, labelPath string) (*Split, error) {
	return npySplit(dataPath, labelPath, readNPYFile)
}

// npySplit is readNPYSplit with the files read by read.
func npySplit(dataPath, labelPath string, read func(string, func(*pointcloud.NPYArray) error) (*pointcloud.NPYArray, error)) (*Split, error) {
	da, err := read(dataPath, func(a *pointcloud.NPYArray) error {
		if a.Kind() != 'f' || len(a.Shape) != 3 || a.Shape[2] != 3 || a.Shape[1] == 0 {
			return fmt.Errorf("array of %s with shape %s, want float (samples, points, 3)", a.DType, state.Quote(a.ShapeString()))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	la, err := read(labelPath, func(a *pointcloud.NPYArray) error {
		if a.Kind() == 'f' || len(a.Shape) != 1 {
			return fmt.Errorf("array of %s with shape %s, want integers (samples,)", a.DType, state.Quote(a.ShapeString()))
		}
		if a.Shape[0] != da.Shape[0] {
			return fmt.Errorf("%d labels for the %d samples of %s", a.Shape[0], da.Shape[0], dataPath)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n, p := da.Shape[0], da.Shape[1]
	s := &Split{Points: make([][]float32, n), Labels: make([]int, n)}
	for i := int64(0); i < n; i++ {
		xyz := make([]float32, 3*p)
		for k := range int64(len(xyz)) {
			at := i*3*p + k // C order
			if da.Fortran {
				at = i + n*(k/3) + n*p*(k%3)
			}
			xyz[k] = float32(da.Float(at))
		}
		if bad := nonFinite(xyz); bad != "" {
			return nil, fmt.Errorf("%s: sample %d has %s coordinates", dataPath, i, bad)
		}
		s.Points[i] = xyz
		l := la.Float(i)
		if l < 0 || l > math.MaxInt32 {
			return nil, fmt.Errorf("%s: sample %d has label %v", labelPath, i, l)
		}
		s.Labels[i] = int(l)
	}
	return s, nil
}

// float32Bytes and int64Bytes encode little-endian.
func float32Bytes(vals [][]float32) []byte {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	out := make([]byte, 0, 4*n)
	for _, v := range vals {
		for _, x := range v {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
		}
	}
	return out
}

func int64Bytes(vals []int) []byte {
	var buf bytes.Buffer
	for _, v := range vals {
		binary.Write(&buf, binary.LittleEndian, int64(v))
	}
	return buf.Bytes()
}
