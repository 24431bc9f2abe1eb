package datasets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/pcx-dev/pcx/pointcloud"
)

// The npy layout Export writes and LoadNPY reads: per split,
// <split>_data.npy (float32, samples × points × 3) and <split>_label.npy
// (int64, samples), plus shape_names.txt.

const npyMagic = "\x93NUMPY"

// npyArray is a decoded .npy file (C order only).
type npyArray struct {
	descr string
	shape []int
	data  []byte
}

var (
	npyDescrRE   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortranRE = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShapeRE   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// parseNPY decodes a .npy file's bytes, checking that the data length
// matches the header.
func parseNPY(name string, b []byte) (*npyArray, error) {
	if len(b) < 10 || string(b[:6]) != npyMagic {
		return nil, fmt.Errorf("%s: not a .npy file", name)
	}
	var hlen, start int
	switch b[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, fmt.Errorf("%s: truncated .npy header", name)
		}
		h := binary.LittleEndian.Uint32(b[8:12])
		if uint64(h) > uint64(len(b)) {
			return nil, fmt.Errorf("%s: truncated .npy header", name)
		}
		hlen, start = int(h), 12
	default:
		return nil, fmt.Errorf("%s: unsupported .npy version %d", name, b[6])
	}
	if start+hlen > len(b) {
		return nil, fmt.Errorf("%s: truncated .npy header", name)
	}
	header := string(b[start : start+hlen])
	a := &npyArray{}
	m := npyDescrRE.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("%s: .npy header has no dtype", name)
	}
	a.descr = m[1]
	if m := npyFortranRE.FindStringSubmatch(header); m == nil || m[1] != "False" {
		return nil, fmt.Errorf("%s: only C-ordered .npy arrays are supported", name)
	}
	m = npyShapeRE.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("%s: .npy header has no shape", name)
	}
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s: bad .npy shape (%s)", name, m[1])
		}
		a.shape = append(a.shape, d)
	}
	dt, err := parseDtype(a.descr)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	n := uint64(dt.size)
	for _, d := range a.shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 {
			return nil, fmt.Errorf("%s: .npy shape overflows", name)
		}
		n = lo
	}
	a.data = b[start+hlen:]
	if uint64(len(a.data)) != n {
		return nil, fmt.Errorf("%s: .npy data has %d bytes, its header says %d", name, len(a.data), n)
	}
	return a, nil
}

func (a *npyArray) values() *npArray {
	dt, _ := parseDtype(a.descr)
	return &npArray{shape: a.shape, dtype: dt, data: a.data}
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
	raw, err := os.ReadFile(dataPath)
	if err != nil {
		return nil, err
	}
	da, err := parseNPY(dataPath, raw)
	if err != nil {
		return nil, err
	}
	v := da.values()
	if v.dtype.kind != 'f' || len(da.shape) != 3 || da.shape[2] != 3 || da.shape[1] == 0 {
		return nil, fmt.Errorf("%s: array of %s with shape %s, want float (samples, points, 3)", dataPath, v.dtype, v.shapeString())
	}
	raw, err = os.ReadFile(labelPath)
	if err != nil {
		return nil, err
	}
	la, err := parseNPY(labelPath, raw)
	if err != nil {
		return nil, err
	}
	lv := la.values()
	if lv.dtype.kind == 'f' || len(la.shape) != 1 {
		return nil, fmt.Errorf("%s: array of %s with shape %s, want integers (samples,)", labelPath, lv.dtype, lv.shapeString())
	}
	n, p := da.shape[0], da.shape[1]
	if la.shape[0] != n {
		return nil, fmt.Errorf("%s: %d labels for the %d samples of %s", labelPath, la.shape[0], n, dataPath)
	}
	s := &Split{Points: make([][]float32, n), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		xyz := make([]float32, 3*p)
		for k := range xyz {
			xyz[k] = float32(v.float(i*3*p + k))
		}
		if bad := nonFinite(xyz); bad != "" {
			return nil, fmt.Errorf("%s: sample %d has %s coordinates", dataPath, i, bad)
		}
		s.Points[i] = xyz
		l := lv.float(i)
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
