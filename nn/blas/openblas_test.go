//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package blas

import (
	"os"
	"testing"

	"github.com/ebitengine/purego"
)

// TestOpenBLASThreadTimeout checks that OpenBLAS was loaded with the short
// spin time of threadTimeout (see dlopenQuiet), which needs the environment
// to reach C even in CGO_ENABLED=0 binaries.
func TestOpenBLASThreadTimeout(t *testing.T) {
	if _, ok := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); ok {
		t.Skip("OPENBLAS_THREAD_TIMEOUT set in the environment")
	}
	be, err := loadOpenBLAS()
	if err != nil {
		t.Skip(err)
	}
	ob := be.(*openBLAS)
	h, err := purego.Dlopen(ob.path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Skip(err)
	}
	sym, err := purego.Dlsym(h, "openblas_thread_timeout")
	if err != nil || sym == 0 {
		t.Skip("no openblas_thread_timeout")
	}
	var timeout func() int32
	purego.RegisterFunc(&timeout, sym)
	if got := timeout(); got != 18 {
		t.Errorf("openblas_thread_timeout() = %d, want %s", got, threadTimeout)
	}
	if _, ok := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); ok {
		t.Error("OPENBLAS_THREAD_TIMEOUT left in the environment")
	}
}
