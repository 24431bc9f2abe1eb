package cuda

import (
	"os"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda/internal/emu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// emuDevice opens the CPU emulator (testdata/emu) through the real
// discovery, purego bindings and module loading; it skips without a C++
// compiler.
func emuDevice(t *testing.T) *Device {
	t.Helper()
	if emu.Compiler() == "" {
		t.Skip(emu.ErrNoCompiler)
	}
	dir, err := emu.Shared()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(Options{Libs: LibOptions{Dirs: []string{dir}, Only: true}, IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

func TestEmuSmoke(t *testing.T) {
	d := emuDevice(t)
	if d.Info().Name != "pcx CPU emulator" || d.Info().Major != 8 {
		t.Fatalf("info %+v", d.Info())
	}
	s := d.Stream()
	a, _ := s.Alloc(5)
	b, _ := s.Alloc(5)
	out, _ := s.Alloc(5)
	if err := s.Upload(a, []float32{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Upload(b, []float32{10, 20, 30, 40, 50}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(out, a, b); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 5)
	if err := s.Download(got, out); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != float32(11*(i+1)) {
			t.Fatalf("Add = %v", got)
		}
	}
	t.Log(d)
}
