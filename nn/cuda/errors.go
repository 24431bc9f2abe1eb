package cuda

import (
	"errors"
	"fmt"
)

// Result is a CUDA driver API status (CUresult).
type Result int32

// Driver results that pcx handles specially.
const (
	Success         Result = 0
	ErrInvalidValue Result = 1
	ErrOutOfMemory  Result = 2
	ErrStubLibrary  Result = 34
	ErrNoDevice     Result = 100
	ErrInvalidPTX   Result = 218
	ErrUnsupported  Result = 222 // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
	ErrNotFound     Result = 500
	ErrNotReady     Result = 600
)

// resultInfo is the name and a readable explanation of a driver result.
type resultInfo struct {
	name, text string
}

// results describes the driver API's CUresult values (cuda.h of CUDA 13,
// whose numbering has been stable since CUDA 4). The texts are pcx's own
// short explanations, with a hint where the usual cause is known.
var results = map[Result]resultInfo{
	0:   {"CUDA_SUCCESS", "no error"},
	1:   {"CUDA_ERROR_INVALID_VALUE", "an argument is out of range"},
	2:   {"CUDA_ERROR_OUT_OF_MEMORY", "out of GPU memory"},
	3:   {"CUDA_ERROR_NOT_INITIALIZED", "the driver was not initialised (cuInit)"},
	4:   {"CUDA_ERROR_DEINITIALIZED", "the driver is shutting down"},
	5:   {"CUDA_ERROR_PROFILER_DISABLED", "the profiler is disabled"},
	6:   {"CUDA_ERROR_PROFILER_NOT_INITIALIZED", "the profiler is not initialised"},
	7:   {"CUDA_ERROR_PROFILER_ALREADY_STARTED", "the profiler is already started"},
	8:   {"CUDA_ERROR_PROFILER_ALREADY_STOPPED", "the profiler is already stopped"},
	34:  {"CUDA_ERROR_STUB_LIBRARY", "the libcuda.so.1 loaded is the CUDA toolkit's stub, not the driver's library; put the driver's directory first (or point PCX_CUDA_LIBS at it)"},
	46:  {"CUDA_ERROR_DEVICE_UNAVAILABLE", "the GPU is busy or unavailable (exclusive compute mode?)"},
	100: {"CUDA_ERROR_NO_DEVICE", "no CUDA-capable GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)"},
	101: {"CUDA_ERROR_INVALID_DEVICE", "no such GPU ordinal"},
	102: {"CUDA_ERROR_DEVICE_NOT_LICENSED", "the GPU is not licensed for compute"},
	200: {"CUDA_ERROR_INVALID_IMAGE", "the kernel image is invalid"},
	201: {"CUDA_ERROR_INVALID_CONTEXT", "no valid context is current"},
	202: {"CUDA_ERROR_CONTEXT_ALREADY_CURRENT", "the context is already current"},
	205: {"CUDA_ERROR_MAP_FAILED", "a map or register operation failed"},
	206: {"CUDA_ERROR_UNMAP_FAILED", "an unmap or unregister operation failed"},
	207: {"CUDA_ERROR_ARRAY_IS_MAPPED", "the array is mapped"},
	208: {"CUDA_ERROR_ALREADY_MAPPED", "the resource is already mapped"},
	209: {"CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image fits this GPU"},
	210: {"CUDA_ERROR_ALREADY_ACQUIRED", "the resource is already acquired"},
	211: {"CUDA_ERROR_NOT_MAPPED", "the resource is not mapped"},
	212: {"CUDA_ERROR_NOT_MAPPED_AS_ARRAY", "the resource is not mapped as an array"},
	213: {"CUDA_ERROR_NOT_MAPPED_AS_POINTER", "the resource is not mapped as a pointer"},
	214: {"CUDA_ERROR_ECC_UNCORRECTABLE", "an uncorrectable ECC error was detected"},
	215: {"CUDA_ERROR_UNSUPPORTED_LIMIT", "the limit is not supported by this GPU"},
	216: {"CUDA_ERROR_CONTEXT_ALREADY_IN_USE", "the context is already in use by another thread"},
	217: {"CUDA_ERROR_PEER_ACCESS_UNSUPPORTED", "peer access is not supported between these GPUs"},
	218: {"CUDA_ERROR_INVALID_PTX", "the PTX failed to JIT-compile"},
	219: {"CUDA_ERROR_INVALID_GRAPHICS_CONTEXT", "the OpenGL or DirectX context is invalid"},
	220: {"CUDA_ERROR_NVLINK_UNCORRECTABLE", "an uncorrectable NVLink error was detected"},
	221: {"CUDA_ERROR_JIT_COMPILER_NOT_FOUND", "the driver's PTX JIT compiler library was not found"},
	222: {"CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the driver is older than the PTX's ISA version; update the NVIDIA driver"},
	223: {"CUDA_ERROR_JIT_COMPILATION_DISABLED", "PTX JIT compilation is disabled (CUDA_DISABLE_PTX_JIT?)"},
	224: {"CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY", "the execution affinity is not supported"},
	225: {"CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC", "device-side synchronisation is not supported"},
	300: {"CUDA_ERROR_INVALID_SOURCE", "the kernel source is invalid"},
	301: {"CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
	302: {"CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND", "a shared object symbol was not found"},
	303: {"CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", "a shared object failed to initialise"},
	304: {"CUDA_ERROR_OPERATING_SYSTEM", "an operating system call failed"},
	400: {"CUDA_ERROR_INVALID_HANDLE", "a handle (stream, event, module, function) is invalid"},
	401: {"CUDA_ERROR_ILLEGAL_STATE", "the resource is in an illegal state"},
	402: {"CUDA_ERROR_LOSSY_QUERY", "the query would lose information"},
	500: {"CUDA_ERROR_NOT_FOUND", "a named symbol (kernel) was not found in the module"},
	600: {"CUDA_ERROR_NOT_READY", "the asynchronous work has not completed yet"},
	700: {"CUDA_ERROR_ILLEGAL_ADDRESS", "a kernel accessed an illegal address (the context is now unusable)"},
	701: {"CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources (registers, threads) requested for a launch"},
	702: {"CUDA_ERROR_LAUNCH_TIMEOUT", "a kernel ran past the watchdog timeout"},
	703: {"CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING", "the launch used incompatible texturing"},
	704: {"CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED", "peer access is already enabled"},
	705: {"CUDA_ERROR_PEER_ACCESS_NOT_ENABLED", "peer access is not enabled"},
	708: {"CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE", "the primary context is already active"},
	709: {"CUDA_ERROR_CONTEXT_IS_DESTROYED", "the context was destroyed"},
	710: {"CUDA_ERROR_ASSERT", "a device-side assertion failed"},
	711: {"CUDA_ERROR_TOO_MANY_PEERS", "too many peer contexts"},
	712: {"CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "the host memory is already registered"},
	713: {"CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", "the host memory is not registered"},
	714: {"CUDA_ERROR_HARDWARE_STACK_ERROR", "a kernel overflowed its stack"},
	715: {"CUDA_ERROR_ILLEGAL_INSTRUCTION", "a kernel executed an illegal instruction"},
	716: {"CUDA_ERROR_MISALIGNED_ADDRESS", "a kernel accessed a misaligned address"},
	717: {"CUDA_ERROR_INVALID_ADDRESS_SPACE", "a kernel used an invalid address space"},
	718: {"CUDA_ERROR_INVALID_PC", "a kernel's program counter became invalid"},
	719: {"CUDA_ERROR_LAUNCH_FAILED", "a kernel failed (the context is now unusable)"},
	720: {"CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", "the cooperative launch has too many blocks"},
	800: {"CUDA_ERROR_NOT_PERMITTED", "the operation is not permitted"},
	801: {"CUDA_ERROR_NOT_SUPPORTED", "the operation is not supported on this system"},
	802: {"CUDA_ERROR_SYSTEM_NOT_READY", "the system is not ready (is the NVIDIA driver's service, e.g. nvidia-fabricmanager, running?)"},
	803: {"CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "the driver library and the kernel module have different versions (reboot or reinstall the driver)"},
	804: {"CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward compatibility is not supported on this GPU"},
	999: {"CUDA_ERROR_UNKNOWN", "an unknown internal error"},
}

// Name is the CUresult's symbolic name, or "CUresult(n)" for a value pcx
// does not know.
func (r Result) Name() string {
	if ri, ok := results[r]; ok {
		return ri.name
	}
	return fmt.Sprintf("CUresult(%d)", int32(r))
}

// Text is a readable explanation of the result.
func (r Result) Text() string {
	if ri, ok := results[r]; ok {
		return ri.text
	}
	return "an error pcx does not know (a newer driver?)"
}

// Error is a failed driver, cuBLAS or launch call.
type Error struct {
	// Op names the call, with the context that makes it readable (the
	// kernel, the size).
	Op string
	// Code is the driver result (cuBLAS statuses use Status instead).
	Code Result
	// Status is the cuBLAS status when the call was a cuBLAS one, else -1.
	Status int32
	// Detail is the driver's own description (cuGetErrorString) or the JIT
	// log, when available.
	Detail string
}

// Error reads, for example, "cuMemAlloc 1.5 GiB: CUDA_ERROR_OUT_OF_MEMORY
// (out of GPU memory)".
func (e *Error) Error() string {
	var s string
	if e.Status >= 0 {
		s = fmt.Sprintf("%s: %s (%s)", e.Op, statusName(e.Status), statusText(e.Status))
	} else {
		s = fmt.Sprintf("%s: %s (%s)", e.Op, e.Code.Name(), e.Code.Text())
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return "cuda: " + s
}

// IsResult reports whether err is (or wraps) a driver error with result r,
// e.g. IsResult(err, ErrOutOfMemory).
func IsResult(err error, r Result) bool {
	var e *Error
	return errors.As(err, &e) && e.Status < 0 && e.Code == r
}

// cuBLAS statuses (cublasStatus_t).
var statuses = map[int32]resultInfo{
	0:  {"CUBLAS_STATUS_SUCCESS", "no error"},
	1:  {"CUBLAS_STATUS_NOT_INITIALIZED", "cuBLAS is not initialised (is the driver working?)"},
	3:  {"CUBLAS_STATUS_ALLOC_FAILED", "cuBLAS could not allocate memory"},
	7:  {"CUBLAS_STATUS_INVALID_VALUE", "an argument is out of range"},
	8:  {"CUBLAS_STATUS_ARCH_MISMATCH", "the GPU lacks a feature the call needs"},
	11: {"CUBLAS_STATUS_MAPPING_ERROR", "GPU memory could not be accessed"},
	13: {"CUBLAS_STATUS_EXECUTION_FAILED", "the GPU program failed to run"},
	14: {"CUBLAS_STATUS_INTERNAL_ERROR", "an internal cuBLAS operation failed"},
	15: {"CUBLAS_STATUS_NOT_SUPPORTED", "the functionality is not supported"},
	16: {"CUBLAS_STATUS_LICENSE_ERROR", "a licence error"},
}

func statusName(s int32) string {
	if si, ok := statuses[s]; ok {
		return si.name
	}
	return fmt.Sprintf("cublasStatus(%d)", s)
}

func statusText(s int32) string {
	if si, ok := statuses[s]; ok {
		return si.text
	}
	return "a status pcx does not know (a newer cuBLAS?)"
}

// check turns a driver result into an error (nil for success).
func check(op string, r Result) error {
	if r == Success {
		return nil
	}
	return &Error{Op: op, Code: r, Status: -1}
}

// checkBLAS turns a cuBLAS status into an error.
func checkBLAS(op string, s int32) error {
	if s == 0 {
		return nil
	}
	return &Error{Op: op, Status: s}
}
