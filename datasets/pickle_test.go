package datasets

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadModelNetDatMatchesNumpy(t *testing.T) {
	exp := loadExpected(t)
	for rel, want := range exp.Dat {
		t.Run(rel, func(t *testing.T) {
			s, err := ReadModelNetDat(td(rel))
			if err != nil {
				t.Fatal(err)
			}
			checkDat(t, s, want.Shape, want.Labels, want.XYZSum, want.NormalSum, want.Last)
		})
	}
}

func checkDat(t *testing.T, s *Split, shape, labels []int, xyzSum, normalSum float64, last []float64) {
	t.Helper()
	if s.Len() != shape[0] || len(s.Points[0]) != 3*shape[1] {
		t.Fatalf("%d samples of %d values, want shape %v", s.Len(), len(s.Points[0]), shape)
	}
	if !equalInts(s.Labels, labels) {
		t.Fatalf("labels %v, want %v", s.Labels, labels)
	}
	if got := sumAll(s.Points); !near(got, xyzSum, 1e-9) {
		t.Fatalf("xyz sum %v, want %v", got, xyzSum)
	}
	if s.Normals == nil {
		t.Fatal("no normals")
	}
	if got := sumAll(s.Normals); !near(got, normalSum, 1e-9) {
		t.Fatalf("normal sum %v, want %v", got, normalSum)
	}
	p, n := s.Points[s.Len()-1], s.Normals[s.Len()-1]
	got := append(append([]float32{}, p[len(p)-3:]...), n[len(n)-3:]...)
	for k := range got {
		if float64(got[k]) != last[k] {
			t.Fatalf("last row %v, want %v", got, last)
		}
	}
}

// The same arrays pickled in other ways read the same.
func TestReadModelNetDatVariants(t *testing.T) {
	exp := loadExpected(t)
	want := exp.Dat["modelnet40_dat/modelnet40_train_8192pts_fps.dat"]
	for _, f := range []string{"tuple_p2.dat", "p5.dat", "numpy2_p2.dat", "scalar_labels.dat", "int_labels.dat", "fortran.dat"} {
		t.Run(f, func(t *testing.T) {
			s, err := ReadModelNetDat(td("pickle", f))
			if err != nil {
				t.Fatal(err)
			}
			checkDat(t, s, want.Shape, want.Labels, want.XYZSum, want.NormalSum, want.Last)
		})
	}
	// float64 arrays convert to the nearest float32: the fixture came from
	// float32 values, so they round-trip exactly.
	s, err := ReadModelNetDat(td("pickle", "float64.dat"))
	if err != nil {
		t.Fatal(err)
	}
	checkDat(t, s, want.Shape, want.Labels, want.XYZSum, want.NormalSum, want.Last)
}

func TestReadModelNetDatBad(t *testing.T) {
	cases := []struct {
		file  string
		parts []string
	}{
		{"bad_shape.dat", []string{"bad_shape.dat: sample 0 is a float32 array of shape (32, 2), want float32 of shape (points, 6) or (points, 3)"}},
		{"bad_lengths.dat", []string{"bad_lengths.dat: 4 point arrays but 3 labels"}},
		{"bad_label_shape.dat", []string{"bad_label_shape.dat: label 0: want one integer, got an array of shape (2,)"}},
		{"bad_not_list.dat", []string{"bad_not_list.dat: want a pickled pair [points, labels]"}},
		{"bad_three.dat", []string{"bad_three.dat: want a pickled pair [points, labels]"}},
		{"bad_dtype.dat", []string{"bad_dtype.dat: sample 0 is a int32 array of shape (32, 6)"}},
		{"bad_nan.dat", []string{"bad_nan.dat: sample 2 has NaN coordinates"}},
		{"bad_truncated.dat", []string{"bad_truncated.dat: truncated"}},
		{"bad_empty.dat", []string{"bad_empty.dat: empty file"}},
		{"bad_global.dat", []string{"bad_global.dat: refusing to load os.system", "nothing in it is ever run"}},
		{"missing.dat", []string{"missing.dat", "no such file"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := ReadModelNetDat(td("pickle", c.file))
			wantErr(t, err, c.parts...)
		})
	}
}

// Hand-made pickles that exercise the refusals and the pre-scan.
func TestReadModelNetDatCrafted(t *testing.T) {
	cases := []struct {
		name  string
		data  string
		parts []string
	}{
		{"unknown opcode", "\x80\x04\xff.", []string{"unknown opcode 0xff at offset 2"}},
		{"no stop", "\x80\x02]q\x00", []string{"without a STOP opcode"}},
		{"huge bytes", "\x80\x04B\xff\xff\xff\x7f.", []string{"needs 2147483647 bytes"}},
		{"huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f.", []string{"needs 9223372036854775807 bytes"}},
		{"huge bytes8", "\x80\x04\x8e\x00\x00\x00\x00\x01\x00\x00\x00.", []string{"needs 4294967296 bytes"}},
		{"negative binstring", "\x80\x02T\xff\xff\xff\xff.", []string{"needs -1 bytes"}},
		{"builtin eval", "\x80\x02c__builtin__\neval\n.", []string{"refusing to load __builtin__.eval"}},
		{"subprocess", "\x80\x04\x8c\nsubprocess\x8c\x05Popen\x93.", []string{"refusing to load subprocess.Popen"}},
		{"stack underflow", "\x80\x02R.", []string{"malformed pickle"}},
		{"not a pair", "\x80\x02K\x05.", []string{"want a pickled pair"}},
		{"empty lists", "\x80\x02]]\x86.", []string{"no samples"}},
		{"reconstruct of other class", "\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85C\x01b\x87R.", []string{"_reconstruct of something other than numpy.ndarray"}},
		{"lying array", lyingArray, []string{"holds 4 bytes, want 1152"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readModelNetDatBytes("x.dat", []byte(c.data))
			wantErr(t, err, append([]string{"x.dat: "}, c.parts...)...)
		})
	}
}

// lyingArray is a protocol 2 pickle of [[array], [1]] whose array claims
// shape (48, 6) of float32 but carries 4 bytes.
const lyingArray = "\x80\x02]q\x00(]q\x01cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R" +
	"(K\x01K0K\x06\x86cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04\x00\x00\x00\x00tba]K\x01ae."

// FuzzReadModelNetDat feeds arbitrary bytes to the .dat reader: data or an
// error, never a panic, a hang or an allocation beyond the input's size.
func FuzzReadModelNetDat(f *testing.F) {
	files, _ := filepath.Glob(td("pickle", "*.dat"))
	files = append(files, td("modelnet40_dat", "modelnet40_test_8192pts_fps.dat"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(lyingArray))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := readModelNetDatBytes("fuzz.dat", data)
		if err != nil {
			return
		}
		if len(s.Points) != len(s.Labels) || (s.Normals != nil && len(s.Normals) != len(s.Points)) {
			t.Fatalf("inconsistent split")
		}
		for i, p := range s.Points {
			if err := checkSample(p); err != nil {
				t.Fatalf("sample %d %v", i, err)
			}
			if s.Labels[i] < 0 {
				t.Fatal("negative label")
			}
		}
	})
}
