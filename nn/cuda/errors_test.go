package cuda

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestResultNames(t *testing.T) {
	for _, tc := range []struct {
		r          Result
		name, text string
	}{
		{0, "CUDA_SUCCESS", "no error"},
		{1, "CUDA_ERROR_INVALID_VALUE", "out of range"},
		{2, "CUDA_ERROR_OUT_OF_MEMORY", "out of GPU memory"},
		{34, "CUDA_ERROR_STUB_LIBRARY", "stub"},
		{100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable GPU"},
		{209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image"},
		{218, "CUDA_ERROR_INVALID_PTX", "JIT"},
		{222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "update the NVIDIA driver"},
		{500, "CUDA_ERROR_NOT_FOUND", "not found"},
		{700, "CUDA_ERROR_ILLEGAL_ADDRESS", "illegal address"},
		{719, "CUDA_ERROR_LAUNCH_FAILED", "kernel failed"},
		{803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "different versions"},
		{999, "CUDA_ERROR_UNKNOWN", "unknown"},
		{12345, "CUresult(12345)", "does not know"},
		{-1, "CUresult(-1)", "does not know"},
	} {
		if got := tc.r.Name(); got != tc.name {
			t.Errorf("Result(%d).Name() = %q, want %q", tc.r, got, tc.name)
		}
		if got := tc.r.Text(); !strings.Contains(got, tc.text) {
			t.Errorf("Result(%d).Text() = %q, want it to contain %q", tc.r, got, tc.text)
		}
	}
	// Every known name is unique and spelled as cuda.h does.
	seen := map[string]Result{}
	for r, ri := range results {
		if !strings.HasPrefix(ri.name, "CUDA_") || ri.text == "" {
			t.Errorf("%d: %+v", r, ri)
		}
		if o, dup := seen[ri.name]; dup {
			t.Errorf("%s is both %d and %d", ri.name, o, r)
		}
		seen[ri.name] = r
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{check("cuMemAlloc 1.5 GiB", 2), "cuda: cuMemAlloc 1.5 GiB: CUDA_ERROR_OUT_OF_MEMORY (out of GPU memory)"},
		{&Error{Op: "cuModuleLoadDataEx points.ptx", Code: 218, Status: -1, Detail: "ptxas fatal: bad"},
			"cuda: cuModuleLoadDataEx points.ptx: CUDA_ERROR_INVALID_PTX (the PTX failed to JIT-compile): ptxas fatal: bad"},
		{checkBLAS("cublasSgemm 2×3×4", 7), "cuda: cublasSgemm 2×3×4: CUBLAS_STATUS_INVALID_VALUE (an argument is out of range)"},
		{checkBLAS("cublasCreate", 99), "cuda: cublasCreate: cublasStatus(99) (a status pcx does not know (a newer cuBLAS?))"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	if check("x", 0) != nil || checkBLAS("x", 0) != nil {
		t.Error("success is an error")
	}
	wrapped := fmt.Errorf("step 3: %w", check("cuMemAlloc", ErrOutOfMemory))
	if !IsResult(wrapped, ErrOutOfMemory) || IsResult(wrapped, ErrNoDevice) || IsResult(errors.New("x"), ErrOutOfMemory) {
		t.Error("IsResult")
	}
	if IsResult(checkBLAS("s", 2), 2) {
		t.Error("a cuBLAS status matched a driver result")
	}
}

// TestDriverCallDetail: the driver's own description is added only for a
// result pcx's table does not know.
func TestDriverCallDetail(t *testing.T) {
	d := &driver{cuGetErrorString: func(r Result, s **byte) Result {
		b := []byte(fmt.Sprintf("driver says %d\x00", r))
		*s = &b[0]
		return 0
	}}
	if err := d.call("op", 2).(*Error); err.Detail != "" {
		t.Errorf("known result got detail %q", err.Detail)
	}
	if err := d.call("op", 4242).(*Error); err.Detail != "driver says 4242" {
		t.Errorf("unknown result: detail %q", err.Detail)
	}
	if d.call("op", 0) != nil {
		t.Error("success is an error")
	}
}
