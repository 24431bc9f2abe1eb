//go:build !((linux || darwin || freebsd) && (amd64 || arm64))

package blas

import (
	"errors"
	"runtime"
)

// loadOpenBLAS: purego cannot load libraries on this platform.
func loadOpenBLAS() (backend, error) {
	return nil, errors.New("blas: OpenBLAS loading is not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
}
