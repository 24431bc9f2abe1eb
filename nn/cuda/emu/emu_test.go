package emu

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBuild(t *testing.T) {
	if Compiler() == "" {
		t.Skip(ErrNoCompiler)
	}
	dir, err := Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"libcuda.so.1", "libcublas.so.12", "kernels_list.inc"} {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", n, err)
		}
	}
	list, _ := os.ReadFile(filepath.Join(dir, "kernels_list.inc"))
	if len(list) < 100 {
		t.Errorf("kernel list is too short:\n%s", list)
	}
}

// TestSharedCleanup: Cleanup removes the shared build's directory, and a
// later Shared builds a working one again instead of returning the removed
// one.
func TestSharedCleanup(t *testing.T) {
	if Compiler() == "" {
		t.Skip(ErrNoCompiler)
	}
	t.Cleanup(Cleanup)
	dir, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	Cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there after Cleanup: %v", dir, err)
	}
	again, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(again, "libcuda.so.1")); err != nil {
		t.Errorf("Shared after Cleanup: %v", err)
	}
}
