package cuda

import (
	"fmt"
	"unsafe"
)

// driver holds the CUDA driver API functions pcx calls, bound at run time to
// libcuda.so.1 by symbol name (the _v2 names are the ones cuda.h maps the
// plain names to since CUDA 4 and 11; the driver still exports them).
type driver struct {
	cuInit                    func(flags uint32) Result
	cuDriverGetVersion        func(v *int32) Result
	cuDeviceGetCount          func(n *int32) Result
	cuDeviceGet               func(dev *int32, ordinal int32) Result
	cuDeviceGetName           func(name *byte, n int32, dev int32) Result
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) Result
	cuDeviceTotalMem          func(bytes *uint64, dev int32) Result
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) Result
	cuDevicePrimaryCtxRelease func(dev int32) Result
	cuCtxSetCurrent           func(ctx uintptr) Result
	cuCtxSynchronize          func() Result
	cuMemGetInfo              func(free, total *uint64) Result
	cuMemAlloc                func(p *uint64, bytes uint64) Result
	cuMemFree                 func(p uint64) Result
	cuMemAllocHost            func(p *unsafe.Pointer, bytes uint64) Result
	cuMemFreeHost             func(p unsafe.Pointer) Result
	cuMemcpyHtoDAsync         func(dst uint64, src unsafe.Pointer, bytes uint64, s uintptr) Result
	cuMemcpyDtoHAsync         func(dst unsafe.Pointer, src uint64, bytes uint64, s uintptr) Result
	cuMemcpyDtoDAsync         func(dst, src uint64, bytes uint64, s uintptr) Result
	cuMemsetD32Async          func(dst uint64, v uint32, n uint64, s uintptr) Result
	cuStreamCreate            func(s *uintptr, flags uint32) Result
	cuStreamDestroy           func(s uintptr) Result
	cuStreamSynchronize       func(s uintptr) Result
	cuStreamWaitEvent         func(s, e uintptr, flags uint32) Result
	cuEventCreate             func(e *uintptr, flags uint32) Result
	cuEventRecord             func(e, s uintptr) Result
	cuEventSynchronize        func(e uintptr) Result
	cuEventQuery              func(e uintptr) Result
	cuEventElapsedTime        func(ms *float32, start, end uintptr) Result
	cuEventDestroy            func(e uintptr) Result
	cuModuleLoadDataEx        func(m *uintptr, image unsafe.Pointer, n uint32, opts *int32, vals *uintptr) Result
	cuModuleUnload            func(m uintptr) Result
	cuModuleGetFunction       func(f *uintptr, m uintptr, name *byte) Result
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params, extra unsafe.Pointer) Result
	cuGetErrorString          func(r Result, s **byte) Result
}

// binding pairs a C symbol with the Go function variable bound to it.
type binding struct {
	name string
	fn   any // pointer to a func variable
}

func (d *driver) bindings() []binding {
	return []binding{
		{"cuInit", &d.cuInit},
		{"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuDeviceGetCount", &d.cuDeviceGetCount},
		{"cuDeviceGet", &d.cuDeviceGet},
		{"cuDeviceGetName", &d.cuDeviceGetName},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent},
		{"cuCtxSynchronize", &d.cuCtxSynchronize},
		{"cuMemGetInfo_v2", &d.cuMemGetInfo},
		{"cuMemAlloc_v2", &d.cuMemAlloc},
		{"cuMemFree_v2", &d.cuMemFree},
		{"cuMemAllocHost_v2", &d.cuMemAllocHost},
		{"cuMemFreeHost", &d.cuMemFreeHost},
		{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync},
		{"cuMemcpyDtoHAsync_v2", &d.cuMemcpyDtoHAsync},
		{"cuMemcpyDtoDAsync_v2", &d.cuMemcpyDtoDAsync},
		{"cuMemsetD32Async", &d.cuMemsetD32Async},
		{"cuStreamCreate", &d.cuStreamCreate},
		{"cuStreamDestroy_v2", &d.cuStreamDestroy},
		{"cuStreamSynchronize", &d.cuStreamSynchronize},
		{"cuStreamWaitEvent", &d.cuStreamWaitEvent},
		{"cuEventCreate", &d.cuEventCreate},
		{"cuEventRecord", &d.cuEventRecord},
		{"cuEventSynchronize", &d.cuEventSynchronize},
		{"cuEventQuery", &d.cuEventQuery},
		{"cuEventElapsedTime", &d.cuEventElapsedTime},
		{"cuEventDestroy_v2", &d.cuEventDestroy},
		{"cuModuleLoadDataEx", &d.cuModuleLoadDataEx},
		{"cuModuleUnload", &d.cuModuleUnload},
		{"cuModuleGetFunction", &d.cuModuleGetFunction},
		{"cuLaunchKernel", &d.cuLaunchKernel},
		{"cuGetErrorString", &d.cuGetErrorString},
	}
}

// symbols lists the names a library must export, for openFirst.
func symbols(bs []binding) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.name
	}
	return out
}

// bind resolves every binding in l.
func bind(l lib, bs []binding) error {
	for _, b := range bs {
		addr, err := l.sym(b.name)
		if err != nil || addr == 0 {
			return fmt.Errorf("cuda: %s lacks %s (too old?)", l.path(), b.name)
		}
		registerFunc(b.fn, addr)
	}
	return nil
}

// Device attributes (CUdevice_attribute) pcx reads.
const (
	attrMaxThreadsPerBlock = 1
	attrSharedPerBlock     = 8
	attrMultiprocessors    = 16
	attrCCMajor            = 75
	attrCCMinor            = 76
)

// JIT options (CUjit_option) for cuModuleLoadDataEx.
const (
	jitInfoLogBuffer      = 3
	jitInfoLogBufferSize  = 4
	jitErrorLogBuffer     = 5
	jitErrorLogBufferSize = 6
)

// Stream and event flags.
const (
	streamNonBlocking   = 1 // CU_STREAM_NON_BLOCKING
	eventDisableTiming  = 2 // CU_EVENT_DISABLE_TIMING
	eventDefault        = 0
	maxKernelParameters = 32
)

// cString reads a NUL-terminated C string the driver owns.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// call runs a driver call and converts its result, adding the driver's own
// description for a result pcx's table does not know.
func (d *driver) call(op string, r Result) error {
	if r == Success {
		return nil
	}
	e := &Error{Op: op, Code: r, Status: -1}
	if _, known := results[r]; !known && d.cuGetErrorString != nil {
		var p *byte
		if d.cuGetErrorString(r, &p) == Success {
			if s := cString(p); s != "" {
				e.Detail = s
			}
		}
	}
	return e
}
