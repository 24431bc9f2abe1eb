//go:build !(linux && (amd64 || arm64))

package cuda

import (
	"errors"
	"runtime"
)

var errPlatform = errors.New("cuda: pcx's CUDA backend runs on linux/amd64 and linux/arm64 only, not " + runtime.GOOS + "/" + runtime.GOARCH)

func sysOpen(string) (lib, error) { return nil, errPlatform }

func registerFunc(any, uintptr) { panic(errPlatform) }

func platformOK() error { return errPlatform }
