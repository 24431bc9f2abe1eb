package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Options configures Open.
type Options struct {
	// Ordinal selects the GPU (0 is the first visible one).
	Ordinal int
	// Libs says where to look for libcuda.so.1 and cuBLAS, before the
	// places listed in the package documentation; PCX_CUDA_LIBS and
	// PCX_CUDA_LIBS_ONLY are added to it unless IgnoreEnv is set.
	Libs      LibOptions
	IgnoreEnv bool
	// TF32 lets cuBLAS use TF32 tensor cores for float32 products (about
	// 10 bits of mantissa in the inputs); off, products are full float32.
	TF32 bool
}

// Info describes the opened GPU and libraries.
type Info struct {
	Name          string
	Major, Minor  int // compute capability
	SMs           int
	TotalMem      int64
	Driver        int // cuDriverGetVersion, e.g. 13000
	CUBLAS        int // cublasGetVersion, e.g. 130100
	DriverPath    string
	CUBLASPath    string
	TF32          bool
	MaxThreads    int
	SharedPerBlck int
}

// Device is an opened GPU: its primary context, pcx's kernels loaded from
// the embedded PTX, a cuBLAS handle and a caching allocator. Its methods and
// those of its streams may be called from any goroutine.
type Device struct {
	drv     *driver
	blas    *cublasLib
	dev     int32
	ctx     uintptr
	info    Info
	alloc   *Allocator
	mods    []uintptr
	funcs   map[string]uintptr
	blasH   uintptr
	blasMu  sync.Mutex
	launch  *launchArgs
	pin     runtime.Pinner
	stream  *Stream
	streams map[*Stream]bool
	mu      sync.Mutex
	closed  bool
	// fake, set only by tests, receives launches and products instead of
	// the driver.
	fake fakeExec
}

// fakeExec stands in for the GPU in tests of argument checking.
type fakeExec interface {
	launch(name string, grid, block [3]uint32, s *Stream, kinds string, args []uint64) error
	gemm(s *Stream, g *GemmArgs) error
}

// launchArgs is the pinned parameter block of cuLaunchKernel: ptrs[i]
// points at vals[i] (the driver reads as many bytes as the parameter has).
type launchArgs struct {
	mu   sync.Mutex
	vals [maxKernelParameters]uint64
	ptrs [maxKernelParameters]unsafe.Pointer
}

// Open loads the CUDA driver and cuBLAS (see the package documentation for
// where it looks), opens GPU opts.Ordinal and loads pcx's kernels. Without
// a usable GPU it returns an error that says what is missing and where pcx
// looked (a *MissingError when a library was not found).
func Open(opts Options) (*Device, error) {
	if !opts.IgnoreEnv {
		opts.Libs = opts.Libs.FromEnv()
	}
	if err := platformOK(); err != nil {
		return nil, err
	}
	ls, err := loadLibs(opts.Libs, sysOpen, fileExists, os.Getenv, filepath.Glob)
	if err != nil {
		return nil, err
	}
	return openDevice(ls, opts)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// libSet is the bound driver and cuBLAS with the files they came from.
type libSet struct {
	drv      *driver
	blas     *cublasLib
	drvPath  string
	blasPath string
}

// loadLibs finds and binds both libraries, or reports every one missing.
func loadLibs(o LibOptions, open opener, stat func(string) bool, env func(string) string, glob func(string) ([]string, error)) (*libSet, error) {
	drv, bl := &driver{}, &cublasLib{}
	dl, dtried := openFirst(driverCandidates(o), symbols(drv.bindings()), open, stat)
	bcands, nomatch := blasCandidates(o, env, glob)
	bll, btried := openFirst(bcands, symbols(bl.bindings()), open, stat)
	miss := MissingError{EnvUnset: len(o.Dirs) == 0}
	if dl == nil {
		miss.Libs = append(miss.Libs, MissingLib{What: driverLib + " (the NVIDIA driver)", Looked: describe(dtried, env)})
	}
	if bll == nil {
		looked := describe(btried, env)
		for _, p := range nomatch {
			looked = append(looked, p+" (no match)")
		}
		miss.Libs = append(miss.Libs, MissingLib{What: "cuBLAS (" + strings.Join(blasLibs, ", ") + ")", Looked: looked})
	}
	if len(miss.Libs) > 0 {
		return nil, &miss
	}
	if err := bind(dl, drv.bindings()); err != nil {
		return nil, err
	}
	if err := bind(bll, bl.bindings()); err != nil {
		return nil, err
	}
	return &libSet{drv: drv, blas: bl, drvPath: dl.path(), blasPath: bll.path()}, nil
}

func openDevice(ls *libSet, opts Options) (*Device, error) {
	drv, bl := ls.drv, ls.blas
	if err := drv.call("cuInit", drv.cuInit(0)); err != nil {
		return nil, err
	}
	d := &Device{drv: drv, blas: bl, funcs: map[string]uintptr{}, streams: map[*Stream]bool{}}
	d.info.DriverPath, d.info.CUBLASPath = ls.drvPath, ls.blasPath
	var ver, count int32
	if err := drv.call("cuDriverGetVersion", drv.cuDriverGetVersion(&ver)); err != nil {
		return nil, err
	}
	d.info.Driver = int(ver)
	if err := drv.call("cuDeviceGetCount", drv.cuDeviceGetCount(&count)); err != nil {
		return nil, err
	}
	if opts.Ordinal < 0 || opts.Ordinal >= int(count) {
		return nil, fmt.Errorf("cuda: GPU %d requested, %d visible (CUDA_VISIBLE_DEVICES=%q)", opts.Ordinal, count, os.Getenv("CUDA_VISIBLE_DEVICES"))
	}
	if err := drv.call("cuDeviceGet", drv.cuDeviceGet(&d.dev, int32(opts.Ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := drv.call("cuDeviceGetName", drv.cuDeviceGetName(&name[0], int32(len(name)), d.dev)); err != nil {
		return nil, err
	}
	d.info.Name = cString(&name[0])
	for _, a := range []struct {
		attr int32
		dst  *int
	}{{attrCCMajor, &d.info.Major}, {attrCCMinor, &d.info.Minor}, {attrMultiprocessors, &d.info.SMs},
		{attrMaxThreadsPerBlock, &d.info.MaxThreads}, {attrSharedPerBlock, &d.info.SharedPerBlck}} {
		var v int32
		if err := drv.call("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(&v, a.attr, d.dev)); err != nil {
			return nil, err
		}
		*a.dst = int(v)
	}
	var total uint64
	if err := drv.call("cuDeviceTotalMem", drv.cuDeviceTotalMem(&total, d.dev)); err != nil {
		return nil, err
	}
	d.info.TotalMem = int64(total)
	if err := drv.call("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&d.ctx, d.dev)); err != nil {
		return nil, err
	}
	d.launch = &launchArgs{}
	for i := range d.launch.ptrs {
		d.launch.ptrs[i] = unsafe.Pointer(&d.launch.vals[i])
	}
	d.pin.Pin(d.launch)
	d.alloc = newAllocator(d)
	err := d.with(func() error {
		if err := d.loadKernels(); err != nil {
			return err
		}
		if s := bl.create(&d.blasH); s != 0 {
			return checkBLAS("cublasCreate", s)
		}
		var v int32
		if s := bl.getVersion(d.blasH, &v); s != 0 {
			return checkBLAS("cublasGetVersion", s)
		}
		d.info.CUBLAS = int(v)
		mode := int32(cublasDefaultMath)
		if opts.TF32 {
			mode = cublasTF32Math
		}
		d.info.TF32 = opts.TF32
		return checkBLAS("cublasSetMathMode", bl.setMathMode(d.blasH, mode))
	})
	if err == nil {
		d.stream, err = d.NewStream()
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// with runs f on a locked OS thread with the device's context current:
// CUDA contexts are per thread, goroutines are not.
func (d *Device) with(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if d.fake == nil {
		if err := d.drv.call("cuCtxSetCurrent", d.drv.cuCtxSetCurrent(d.ctx)); err != nil {
			return err
		}
	}
	return f()
}

// Info describes the GPU and the libraries in use.
func (d *Device) Info() Info { return d.info }

// String is a one-line description, e.g. "NVIDIA H100 80GB HBM3 (sm_90,
// 132 SMs, 79.1 GiB; driver 13.0, cuBLAS 13.1.0)".
func (d *Device) String() string {
	i := d.info
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %s; driver %d.%d, cuBLAS %d.%d.%d%s)", i.Name, i.Major, i.Minor, i.SMs,
		human(i.TotalMem), i.Driver/1000, i.Driver%1000/10, i.CUBLAS/10000, i.CUBLAS%10000/100, i.CUBLAS%100,
		map[bool]string{true: ", TF32 on", false: ""}[i.TF32])
}

// Allocator is the device's caching allocator.
func (d *Device) Allocator() *Allocator { return d.alloc }

// Stream is the device's default stream (created by Open; not the legacy
// NULL stream).
func (d *Device) Stream() *Stream { return d.stream }

// MemInfo returns the free and total device memory in bytes.
func (d *Device) MemInfo() (free, total int64, err error) {
	if d.fake != nil {
		return 0, 0, nil
	}
	err = d.with(func() error {
		var f, t uint64
		if err := d.drv.call("cuMemGetInfo", d.drv.cuMemGetInfo(&f, &t)); err != nil {
			return err
		}
		free, total = int64(f), int64(t)
		return nil
	})
	return
}

// Synchronize waits for all work queued on the device.
func (d *Device) Synchronize() error {
	if d.fake != nil {
		return nil
	}
	return d.with(func() error { return d.drv.call("cuCtxSynchronize", d.drv.cuCtxSynchronize()) })
}

// devMem for the allocator.

func (d *Device) memAlloc(bytes int64) (uint64, error) {
	var p uint64
	err := d.with(func() error {
		return d.drv.call("cuMemAlloc "+human(bytes), d.drv.cuMemAlloc(&p, uint64(bytes)))
	})
	return p, err
}

func (d *Device) memFree(p uint64) error {
	return d.with(func() error { return d.drv.call("cuMemFree", d.drv.cuMemFree(p)) })
}

func (d *Device) synchronize() error { return d.Synchronize() }

// Close releases the device: streams, cached memory, kernels, the cuBLAS
// handle and the primary context. Buffers still allocated become invalid.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	streams := make([]*Stream, 0, len(d.streams))
	for s := range d.streams {
		streams = append(streams, s)
	}
	d.mu.Unlock()
	var errs []error
	errs = append(errs, d.Synchronize())
	for _, s := range streams {
		errs = append(errs, s.Destroy())
	}
	if d.alloc != nil {
		errs = append(errs, d.alloc.EmptyCache())
	}
	if d.fake != nil {
		return errors.Join(errs...)
	}
	errs = append(errs, d.with(func() error {
		var e []error
		if d.blasH != 0 {
			e = append(e, checkBLAS("cublasDestroy", d.blas.destroy(d.blasH)))
		}
		for _, m := range d.mods {
			e = append(e, d.drv.call("cuModuleUnload", d.drv.cuModuleUnload(m)))
		}
		return errors.Join(e...)
	}))
	if d.ctx != 0 {
		errs = append(errs, d.drv.call("cuDevicePrimaryCtxRelease", d.drv.cuDevicePrimaryCtxRelease(d.dev)))
	}
	d.pin.Unpin()
	return errors.Join(errs...)
}
