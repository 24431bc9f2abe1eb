package cuda

//go:generate bash ../../scripts/gen_ptx.sh

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"path"
	"runtime"
	"sort"
	"strings"
	"unsafe"
)

// ptxFS holds the kernels compiled to PTX by scripts/gen_ptx.sh from
// kernels/*.cu (committed, so building pcx needs no CUDA toolkit).
//
//go:embed kernels/*.ptx
var ptxFS embed.FS

// kernelSig is a kernel's module (the .cu/.ptx file) and its parameters,
// one letter each: p a device pointer (.u64), i an int (.u32), f a float
// (.f32), d a double (.f64). Tests check the table against the .entry lines of the PTX, and
// every launch checks its arguments against it.
type kernelSig struct {
	module, params string
}

var kernelSigs = map[string]kernelSig{
	"pcx_fill":                {"elementwise", "pfi"},
	"pcx_add":                 {"elementwise", "pppi"},
	"pcx_scale":               {"elementwise", "ppfi"},
	"pcx_axpy":                {"elementwise", "ppfi"},
	"pcx_relu_fwd":            {"elementwise", "ppi"},
	"pcx_relu_bwd":            {"elementwise", "pppi"},
	"pcx_gelu_fwd":            {"elementwise", "ppii"},
	"pcx_gelu_bwd":            {"elementwise", "pppii"},
	"pcx_reduce_sum":          {"elementwise", "ppif"},
	"pcx_layernorm_fwd":       {"layernorm", "ppppppiif"},
	"pcx_layernorm_bwd_dx":    {"layernorm", "ppppppii"},
	"pcx_layernorm_bwd_dwdb":  {"layernorm", "ppppppii"},
	"pcx_softmax_fwd":         {"softmax", "ppiif"},
	"pcx_softmax_bwd":         {"softmax", "pppiifi"},
	"pcx_bn_stats":            {"batchnorm", "pppppiiff"},
	"pcx_bn_eval_stats":       {"batchnorm", "ppppif"},
	"pcx_bn_fwd":              {"batchnorm", "ppppppii"},
	"pcx_bn_bwd_sums":         {"batchnorm", "ppppppppii"},
	"pcx_bn_bwd_dx":           {"batchnorm", "ppppppppiii"},
	"pcx_scaleshift_fwd":      {"scaleshift", "ppppii"},
	"pcx_scaleshift_bwd_dx":   {"scaleshift", "pppii"},
	"pcx_scaleshift_bwd_dgdb": {"scaleshift", "ppppii"},
	"pcx_max_middle_fwd":      {"pool", "pppiii"},
	"pcx_max_middle_bwd":      {"pool", "pppiii"},
	"pcx_xent_fwd":            {"crossentropy", "ppppiif"},
	"pcx_xent_bwd":            {"crossentropy", "ppppiif"},
	"pcx_l2norm_fwd":          {"router", "pppiif"},
	"pcx_l2norm_bwd":          {"router", "ppppiif"},
	"pcx_router_fwd":          {"router", "pppiii"},
	"pcx_router_bwd_dz":       {"router", "pppppiii"},
	"pcx_router_bwd_den":      {"router", "pppiii"},
	"pcx_bias_rows":           {"engine", "ppii"},
	"pcx_colsum":              {"engine", "ppii"},
	"pcx_copy2d":              {"engine", "ppiiiii"},
	"pcx_repeat_fwd":          {"engine", "ppiii"},
	"pcx_repeat_bwd":          {"engine", "ppiii"},
	"pcx_mean_tokens_fwd":     {"engine", "ppiiif"},
	"pcx_mean_tokens_bwd":     {"engine", "ppiiif"},
	"pcx_rowscale_fwd":        {"engine", "pppii"},
	"pcx_rowscale_bwd":        {"engine", "pppppii"},
	"pcx_top1_fwd":            {"engine", "pppii"},
	"pcx_top1_bwd":            {"engine", "pppii"},
	"pcx_dot":                 {"engine", "pppi"},
	"pcx_axpy_dev":            {"engine", "pppi"},
	"pcx_mul_acc":             {"engine", "pppi"},
	"pcx_dropout_fwd":         {"engine", "pppiffii"},
	"pcx_adamw":               {"engine", "ppppiffffdddd"},
	"pcx_sumsq":               {"engine", "ppi"},
	"pcx_chamfer_nn":          {"chamfer", "ppppiiii"},
	"pcx_chamfer_loss":        {"chamfer", "pppii"},
	"pcx_chamfer_bwd":         {"chamfer", "ppppppiiiidd"},
}

// Kernels lists pcx's kernel names, sorted: those of this package's
// modules and of the modules registered with RegisterModule.
func Kernels() []string {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]string, 0, len(kernelSigs))
	for k := range kernelSigs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// modules lists the embedded PTX files' base names, sorted.
func modules() []string {
	ents, _ := ptxFS.ReadDir("kernels")
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".ptx") {
			out = append(out, strings.TrimSuffix(n, ".ptx"))
		}
	}
	return out
}

// ptxOf returns a module's PTX, NUL-terminated as cuModuleLoadDataEx wants.
func ptxOf(module string) ([]byte, error) {
	if m, ok := registered[module]; ok {
		return append(m[:len(m):len(m)], 0), nil
	}
	b, err := ptxFS.ReadFile(path.Join("kernels", module+".ptx"))
	if err != nil {
		return nil, fmt.Errorf("cuda: no embedded PTX for %s: %w", module, err)
	}
	return append(b, 0), nil
}

// loadKernels JIT-compiles every embedded and registered module and looks
// up every kernel of kernelSigs (with the context current).
func (d *Device) loadKernels() error {
	regMu.Lock()
	defer regMu.Unlock()
	byModule := map[string][]string{}
	for name, sig := range kernelSigs {
		byModule[sig.module] = append(byModule[sig.module], name)
	}
	for _, m := range append(modules(), registeredNames()...) {
		img, err := ptxOf(m)
		if err != nil {
			return err
		}
		h, err := d.loadModule(m, img)
		if err != nil {
			return err
		}
		d.mods = append(d.mods, h)
		for _, name := range byModule[m] {
			var f uintptr
			cname := append([]byte(name), 0)
			if err := d.drv.call("cuModuleGetFunction "+name, d.drv.cuModuleGetFunction(&f, h, &cname[0])); err != nil {
				return err
			}
			d.funcs[name] = f
		}
		delete(byModule, m)
	}
	for m := range byModule {
		return fmt.Errorf("cuda: kernels %v need module %s.ptx, which is not embedded", byModule[m], m)
	}
	return nil
}

// loadModule runs cuModuleLoadDataEx with an error log, so that a JIT
// failure says why.
func (d *Device) loadModule(name string, img []byte) (uintptr, error) {
	var h uintptr
	logBuf := make([]byte, 8192)
	opts := []int32{jitErrorLogBuffer, jitErrorLogBufferSize}
	var pin runtime.Pinner
	pin.Pin(&logBuf[0])
	pin.Pin(&img[0])
	defer pin.Unpin()
	// The option values are a pointer and a size, both passed as void*.
	vals := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), uintptr(len(logBuf))}
	r := d.drv.cuModuleLoadDataEx(&h, unsafe.Pointer(&img[0]), uint32(len(opts)), &opts[0], &vals[0])
	runtime.KeepAlive(logBuf)
	runtime.KeepAlive(img)
	if r != Success {
		err := d.drv.call("cuModuleLoadDataEx "+name+".ptx", r).(*Error)
		if i := bytes.IndexByte(logBuf, 0); i > 0 {
			err.Detail = strings.TrimSpace(string(logBuf[:i]))
		}
		return 0, err
	}
	return h, nil
}

// Args collects a kernel's arguments with their kinds and the first
// argument error (NewArgs; Stream.Launch).
type Args struct {
	op    string
	kinds []byte
	vals  []uint64
	err   error
}

func newArgs(op string) *Args { return &Args{op: op} }

func (a *Args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = fmt.Errorf("cuda: "+a.op+": "+format, v...)
	}
}

// buf adds a buffer that must hold exactly want elements.
func (a *Args) buf(name string, b *Buffer, want int) *Args {
	switch {
	case b == nil:
		a.fail("%s is nil", name)
	case b.freed:
		a.fail("%s was freed", name)
	case b.n != want:
		a.fail("%s has %d elements, want %d", name, b.n, want)
	}
	a.kinds = append(a.kinds, 'p')
	a.vals = append(a.vals, b.Ptr())
	return a
}

// buf64 adds a buffer of c float64 values (2c 32-bit elements), which must
// be 8-byte aligned (a view at an odd offset would fault on the GPU).
func (a *Args) buf64(name string, b *Buffer, c int) *Args {
	a.buf(name, b, 2*c)
	if b != nil && b.ptr%8 != 0 {
		a.fail("%s (float64) is not 8-byte aligned", name)
	}
	return a
}

// opt adds a buffer that may be nil (passed as a null pointer).
func (a *Args) opt(name string, b *Buffer, want int) *Args {
	if b == nil {
		a.kinds = append(a.kinds, 'p')
		a.vals = append(a.vals, 0)
		return a
	}
	return a.buf(name, b, want)
}

// int adds an int parameter, which must fit in an int32.
func (a *Args) int(name string, v int) *Args {
	if v < 0 || v > math.MaxInt32 {
		a.fail("%s = %d is outside [0, 2³¹)", name, v)
	}
	a.kinds = append(a.kinds, 'i')
	a.vals = append(a.vals, uint64(uint32(int32(v))))
	return a
}

// flag adds a bool as an int parameter.
func (a *Args) flag(v bool) *Args {
	a.kinds = append(a.kinds, 'i')
	if v {
		a.vals = append(a.vals, 1)
	} else {
		a.vals = append(a.vals, 0)
	}
	return a
}

// f64 adds a double parameter (kind d, .f64 in the PTX).
func (a *Args) f64(v float64) *Args {
	a.kinds = append(a.kinds, 'd')
	a.vals = append(a.vals, math.Float64bits(v))
	return a
}

func (a *Args) f32(v float32) *Args {
	a.kinds = append(a.kinds, 'f')
	a.vals = append(a.vals, uint64(math.Float32bits(v)))
	return a
}

// dims are a launch's grid and block.
type dims struct{ grid, block [3]uint32 }

// blocks1 is a 1-D launch of n threads in blocks of bs, capped for
// grid-stride kernels.
func blocks1(n, bs int) dims {
	g := max(1, min((n+bs-1)/bs, 1<<16))
	return dims{[3]uint32{uint32(g), 1, 1}, [3]uint32{uint32(bs), 1, 1}}
}

// warpRows launches one warp per row, 8 rows per block.
func warpRows(rows int) dims {
	return dims{[3]uint32{uint32(max(1, (rows+7)/8)), 1, 1}, [3]uint32{256, 1, 1}}
}

// columns launches the 32×8 column reductions.
func columns(c int) dims {
	return dims{[3]uint32{uint32(max(1, (c+31)/32)), 1, 1}, [3]uint32{32, 8, 1}}
}

// run launches kernel name on the stream with the collected arguments.
func (s *Stream) run(name string, dm dims, a *Args) error {
	if a.err != nil {
		return a.err
	}
	if s == nil || s.dev == nil {
		return fmt.Errorf("cuda: %s on a nil stream", a.op)
	}
	if s.gone {
		return fmt.Errorf("cuda: %s on a destroyed stream", a.op)
	}
	regMu.Lock()
	sig, ok := kernelSigs[name]
	regMu.Unlock()
	if !ok {
		return fmt.Errorf("cuda: no kernel %s", name)
	}
	if string(a.kinds) != sig.params {
		return fmt.Errorf("cuda: %s: arguments %q do not match kernel %s(%s)", a.op, a.kinds, name, sig.params)
	}
	if dm.grid[0] == 0 || dm.block[0]*dm.block[1]*dm.block[2] > 1024 {
		return fmt.Errorf("cuda: %s: launch of %v blocks of %v threads", a.op, dm.grid, dm.block)
	}
	d := s.dev
	if d.fake != nil {
		return d.fake.launch(name, dm.grid, dm.block, s, sig.params, a.vals)
	}
	f, ok := d.funcs[name]
	if !ok {
		return fmt.Errorf("cuda: kernel %s was registered after the device was opened", name)
	}
	la := d.launch
	la.mu.Lock()
	defer la.mu.Unlock()
	copy(la.vals[:], a.vals)
	return d.with(func() error {
		return d.drv.call("cuLaunchKernel "+name, d.drv.cuLaunchKernel(f, dm.grid[0], dm.grid[1], dm.grid[2],
			dm.block[0], dm.block[1], dm.block[2], 0, s.h, unsafe.Pointer(&la.ptrs[0]), nil))
	})
}
