//go:build linux && (amd64 || arm64)

package cuda

import (
	"github.com/ebitengine/purego"
)

// dlLib is a library opened with dlopen through purego (no cgo).
type dlLib struct {
	h    uintptr
	file string
}

func (l *dlLib) sym(name string) (uintptr, error) { return purego.Dlsym(l.h, name) }
func (l *dlLib) path() string                     { return l.file }

// sysOpen opens a library with RTLD_NOW|RTLD_LOCAL.
func sysOpen(path string) (lib, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, err
	}
	return &dlLib{h: h, file: path}, nil
}

// registerFunc makes fptr (a pointer to a func variable) call the C
// function at addr.
func registerFunc(fptr any, addr uintptr) { purego.RegisterFunc(fptr, addr) }

// platformOK reports whether this platform can load CUDA at all.
func platformOK() error { return nil }
