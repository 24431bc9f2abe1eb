//go:build !amd64 || purego

package blas

// kernels lists the kernels this CPU can run, best first.
func kernels() []*kernel { return kernelList }

var kernelList = []*kernel{kernelGeneric}
