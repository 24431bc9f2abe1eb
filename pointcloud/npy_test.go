package pointcloud

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// npyFile builds an .npy file of format version major with the given header
// dict and data.
func npyFile(major byte, dict string, data []byte) string {
	var b []byte
	b = append(b, npyMagic...)
	b = append(b, major, 0)
	dict += "\n"
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(dict)))
	}
	return string(append(append(b, dict...), data...))
}

// npyData encodes vals in a dtype's layout.
func npyData(descr string, vals ...float64) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if descr[0] == '>' {
		order = binary.BigEndian
	}
	var b []byte
	for _, v := range vals {
		switch descr[1:] {
		case "f4":
			b = order.AppendUint32(b, math.Float32bits(float32(v)))
		case "f8":
			b = order.AppendUint64(b, math.Float64bits(v))
		case "i2":
			b = order.AppendUint16(b, uint16(int16(v)))
		case "u1", "i1":
			b = append(b, byte(int8(v)))
		case "i4":
			b = order.AppendUint32(b, uint32(int32(v)))
		case "u8":
			b = order.AppendUint64(b, uint64(v))
		}
	}
	return b
}

func TestNPYSamples(t *testing.T) {
	six := []float64{1, 2, 3, 0, 0, 1, 4, 5, 6, 0, 1, 0}
	withNormals := &Cloud{XYZ: []float32{1, 2, 3, 4, 5, 6}, Normals: []float32{0, 0, 1, 0, 1, 0}}
	plain := &Cloud{XYZ: []float32{1, 2, 3, 4, 5, 6}}
	for _, tc := range []struct {
		name, data string
		want       *Cloud
	}{
		{"<f4 (N, 6)", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 6), }", npyData("<f4", six...)), withNormals},
		{">f4", npyFile(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 6), }", npyData(">f4", six...)), withNormals},
		{"<f8", npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 6), }", npyData("<f8", six...)), withNormals},
		{">f8 version 2", npyFile(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 6), }", npyData(">f8", six...)), withNormals},
		{"version 3, double quotes, key order", npyFile(3, `{"shape": (2, 3), "fortran_order": False, "descr": "<f4"}`, npyData("<f4", 1, 2, 3, 4, 5, 6)), plain},
		{"(1, N, 3)", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", npyData("<f4", 1, 2, 3, 4, 5, 6)), plain},
		{"(N, 4)", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", npyData("<f4", 1, 2, 3, 9, 4, 5, 6, 9)), plain},
		{"fortran order", npyFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", npyData("<f4", 1, 4, 2, 5, 3, 6)), plain},
		{"fortran (N, 6)", npyFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 6), }", npyData("<f4", 1, 4, 2, 5, 3, 6, 0, 0, 0, 1, 1, 0)), withNormals},
		{"<i2", npyFile(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", npyData("<i2", 1, 2, 3, 4, 5, 6)), plain},
		{"|u1", npyFile(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", npyData("|u1", 1, 2, 3, 4, 5, 6)), plain},
		{">i4", npyFile(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2, 3), }", npyData(">i4", 1, 2, 3, 4, 5, 6)), plain},
		{"<u8, python 2 longs", npyFile(1, "{'descr': '<u8', 'fortran_order': False, 'shape': (2L, 3L), }", npyData("<u8", 1, 2, 3, 4, 5, 6)), plain},
		{"extra data after the array", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", append(npyData("<f4", 1, 2, 3, 4, 5, 6), 1, 2, 3)), plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(strings.NewReader(tc.data), NPY)
			if err != nil {
				t.Fatal(err)
			}
			sameCloud(t, got, tc.want)
		})
	}
}

func TestNPYWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, tetra(), NPY); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	hlen := int(binary.LittleEndian.Uint16(b[8:10]))
	if (10+hlen)%64 != 0 || b[10+hlen-1] != '\n' {
		t.Errorf("header of %d bytes does not end a 64-byte block with a newline", hlen)
	}
	if want := "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 6), }"; !strings.HasPrefix(string(b[10:]), want) {
		t.Errorf("header %q, want %q", b[10:10+hlen], want)
	}
	if len(b) != 10+hlen+4*6*4 {
		t.Errorf("%d bytes, want %d", len(b), 10+hlen+4*6*4)
	}
}

func TestNPYErrors(t *testing.T) {
	head := func(dict string) string { return npyFile(1, dict, nil) }
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "empty file: no NPY header"},
		{"short", "\x93NU", "not an NPY file: too short"},
		{"magic", "PK\x03\x04 zip file", `not an NPY file: it starts with "PK\x03\x04 z"`},
		{"version", npyMagic + "\x04\x00\x00\x00", "NPY format version 4.0 is not supported"},
		{"header cut", npyMagic + "\x01\x00\x40\x00{'descr'", "NPY header promises 64 bytes but the file ends before them"},
		{"huge header", npyMagic + "\x02\x00\xff\xff\xff\xff", "NPY header of 4294967295 bytes is too long"},
		{"not a dict", head("['descr']"), "NPY header: not a dict"},
		{"bad literal", head("{'descr': '<f4', 'shape': (2, 3,, }"), "NPY header: unexpected \",\""},
		{"unterminated", head("{'descr': '<f4"), "unterminated string"},
		{"nested", head(strings.Repeat("(", 40)), "nesting too deep"},
		{"no descr", head("{'fortran_order': False, 'shape': (2, 3)}"), "NPY header has no descr string"},
		{"structured", head("{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (2,)}"), "structured dtypes are not supported"},
		{"float16", head("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3)}"), `NPY dtype "<f2" is not supported`},
		{"object", head("{'descr': '|O', 'fortran_order': False, 'shape': (2, 3)}"), `NPY dtype "|O" is not supported`},
		{"byte order", head("{'descr': '!f4', 'fortran_order': False, 'shape': (2, 3)}"), "unknown byte order"},
		{"no fortran", head("{'descr': '<f4', 'shape': (2, 3)}"), "no fortran_order"},
		{"no shape", head("{'descr': '<f4', 'fortran_order': False}"), "no shape tuple"},
		{"1-d", head("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}"), "NPY shape (6,) is not (N, C) or (1, N, C)"},
		{"batch", head("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2, 3)}"), "holds 4 clouds"},
		{"two columns", head("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 2)}"), "NPY shape (5, 2) has 2 columns, want at least x, y and z"},
		{"negative", head("{'descr': '<f4', 'fortran_order': False, 'shape': (-5, 3)}"), "is not a tuple of sizes"},
		{"too many points", head("{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999, 3)}"), "more points than pcx can index"},
		{"overflow", head("{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 9223372036854775807)}"), "is too large"},
		{"lying shape", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100, 3), }", make([]byte, 37*12)), "NPY header promises shape (100, 3) (1200 bytes) but the data ends after 444 bytes"},
		{"lying huge shape", npyFile(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2000000000, 300), }", make([]byte, 100)), "(4800000000000 bytes) but the data ends after 100 bytes"},
		{"no points", head("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3)}"), "no points"},
		{"nan", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", npyData("<f4", math.NaN(), 0, 0)), "non-finite coordinate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.data), NPY)
			wantErr(t, err, tc.want)
		})
	}
}

func FuzzReadNPY(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, tetra(), NPY)
	fuzzReader(f, NPY, readNPY, buf.String(),
		npyFile(3, `{"shape": (1, 2, 3), "fortran_order": True, "descr": ">f8"}`, npyData(">f8", 1, 2, 3, 4, 5, 6)),
		npyFile(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", npyData("<i2", 1, 2, 3, 4, 5, 6)))
}
