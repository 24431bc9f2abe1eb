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
