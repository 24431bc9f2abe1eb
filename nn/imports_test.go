package nn

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEngineImportsNoPointCode: no package under nn/ (the engine, its CUDA
// back end and the GPU self-test nn/cuda/check included) depends on a
// point-cloud package (pointcloud, points and those under it: fps, knn,
// cuda); those build on the engine, not the other way round.
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
	var starts []string
	err = filepath.WalkDir(filepath.Join(root, "nn"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if _, err := build.ImportDir(path, 0); err == nil {
			rel, _ := filepath.Rel(root, path)
			starts = append(starts, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nn", "nn/cuda", "nn/cuda/check", "nn/cuda/emu", "nn/enginebench"} {
		if !slices.Contains(starts, want) {
			t.Fatalf("package %s not found under nn/ (found %v)", want, starts)
		}
	}
	for _, start := range starts {
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
