package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
		{"bad_truncated.dat", []string{"bad_truncated.dat: not a pickle, or a malformed one: pickle is truncated"}},
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
		{"unknown opcode", "\x80\x04\xff.", []string{"pickle opcode 0xff at byte 2: unknown opcode"}},
		{"no stop", "\x80\x02]q\x00", []string{"pickle is truncated: it ends at byte 5 without a STOP opcode"}},
		{"huge bytes", "\x80\x04B\xff\xff\xff\x7f.", []string{"opcode 0x42 at byte 2 runs past the end at byte 8"}},
		{"huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f.", []string{"opcode 0x95 at byte 2 runs past the end at byte 12"}},
		{"huge bytes8", "\x80\x04\x8e\x00\x00\x00\x00\x01\x00\x00\x00.", []string{"opcode 0x8e at byte 2 runs past the end at byte 12"}},
		{"negative binstring", "\x80\x02T\xff\xff\xff\xff.", []string{"negative BINSTRING length"}},
		{"builtin eval", "\x80\x02c__builtin__\neval\n.", []string{"refusing to load __builtin__.eval"}},
		{"subprocess", "\x80\x04\x8c\nsubprocess\x8c\x05Popen\x93.", []string{"refusing to load subprocess.Popen"}},
		{"stack underflow", "\x80\x02R.", []string{"malformed one: pickle opcode 0x52 at byte 2: stack underflow"}},
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

// hostilePickles are opcode streams that ask gopickle for memory or time
// out of proportion to their n or so bytes.
func hostilePickles(n int) map[string][]byte {
	memo := []byte("\x80\x02N")
	for i := 0; len(memo) < n; i++ {
		memo = append(memo, 'r', byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
	}
	return map[string][]byte{
		"MARKs":        append(bytes.Repeat([]byte("("), n), '.'),
		"NONEs":        append(bytes.Repeat([]byte("N"), n), '.'),
		"DUPs":         append(append([]byte("N"), bytes.Repeat([]byte("2"), n)...), '.'),
		"memo entries": append(memo, '.'),
		"long digits":  []byte("L" + strings.Repeat("7", n) + "L\n."),
	}
}

// A hostile .dat is refused with an error, and reading it allocates a
// bounded multiple of its size (gopickle alone took 30-100 times).
func TestReadModelNetDatHostileBounded(t *testing.T) {
	const n = 8 << 20
	for name, data := range hostilePickles(n) {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := readModelNetDatBytes("x.dat", data)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("no error")
			}
			if len(err.Error()) > 300 {
				t.Errorf("%d-byte message", len(err.Error()))
			}
			got, bound := after.TotalAlloc-before.TotalAlloc, uint64(8*len(data)+48<<20)
			if got > bound {
				t.Errorf("reading %d bytes allocated %d, more than %d (%v)", len(data), got, bound, err)
			}
			t.Logf("%d bytes: allocated %d (%v)", len(data), got, err)
		})
	}
}

// A text integer is refused beyond 1024 digits, before anything parses it.
func TestReadModelNetDatLongDigits(t *testing.T) {
	_, err := readModelNetDatBytes("x.dat", []byte("\x80\x02L"+strings.Repeat("7", 2000)+"L\n."))
	wantErr(t, err, "x.dat: ", "text argument longer than 1024 bytes")
	if _, err := readModelNetDatBytes("x.dat", []byte("\x80\x02L"+strings.Repeat("7", 1000)+"L\n.")); err == nil ||
		strings.Contains(err.Error(), "longer than") {
		t.Errorf("a 1000-digit long: %v", err)
	}
}
