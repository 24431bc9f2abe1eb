//go:build !((linux || darwin || freebsd) && (amd64 || arm64))

package dist

import (
	"fmt"
	"runtime"
)

// EnvMPI names the environment variable that gives libmpi's path.
const EnvMPI = "PCX_MPI"

// OpenMPI reports that this platform cannot load MPI.
func OpenMPI() (Comm, error) {
	return nil, fmt.Errorf("dist: MPI is not supported on %s/%s", runtime.GOOS, runtime.GOARCH)
}
