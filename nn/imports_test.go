package nn

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineImportsNoPointCode: the engine and its CUDA back end depend on
// no point-cloud package (pointcloud, points and those under it: fps, knn);
// those build on the engine, not the other way round.
func TestEngineImportsNoPointCode(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(data), "\n", 2)[0], "module"))
	forbidden := func(p string) bool {
		return p == module+"/pointcloud" || p == module+"/points" || strings.HasPrefix(p, module+"/points/")
	}
	for _, start := range []string{"nn", "nn/cpu", "nn/blas", "nn/cuda", "nn/cuda/emu", "nn/layers", "nn/optim", "nn/state", "nn/checkpoint", "nn/enginebench"} {
		// Walk the package's non-test imports within the module.
		seen := map[string]string{module + "/" + start: ""}
		queue := []string{module + "/" + start}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if forbidden(p) {
				chain := p
				for q := seen[p]; q != ""; q = seen[q] {
					chain = q + " → " + chain
				}
				t.Errorf("%s imports point code: %s", start, chain)
				continue
			}
			pkg, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(p, module+"/")), 0)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			for _, imp := range pkg.Imports {
				if _, ok := seen[imp]; !ok && strings.HasPrefix(imp, module+"/") {
					seen[imp] = p
					queue = append(queue, imp)
				}
			}
		}
	}
}
