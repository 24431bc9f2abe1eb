// Package dynlib finds a shared library among candidates, for the engines
// pcx opens at run time (OpenBLAS, MPI).
package dynlib

import (
	"fmt"
	"os"
	"strings"
)

// First tries the candidates in order: a path (a name with a slash) that
// does not exist is passed over, any other is opened with open, and the
// first whose handle use accepts ends the search (ok). errs says why each
// candidate tried before it failed.
func First(cands []string, open func(name string) (uintptr, error), use func(name string, h uintptr) error) (errs []string, ok bool) {
	for _, p := range cands {
		if strings.Contains(p, "/") {
			if _, err := os.Stat(p); err != nil {
				errs = append(errs, p+": no such file")
				continue
			}
		}
		h, err := open(p)
		if err == nil {
			err = use(p, h)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		return errs, true
	}
	return errs, false
}
