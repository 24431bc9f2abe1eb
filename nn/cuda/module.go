package cuda

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"sync"
)

// Kernel names a kernel of a registered module and its parameters, one
// letter each: p a device pointer (.u64), i an int (.u32 or .s32), f a
// float (.f32), d a double (.f64).
type Kernel struct {
	Name, Params string
}

var (
	// regMu guards kernelSigs and registered (RegisterModule may run
	// while another goroutine opens a device).
	regMu sync.Mutex
	// registered maps a registered module's name to its PTX.
	registered = map[string][]byte{}
)

// RegisterModule adds a PTX module, compiled from CUDA C outside this
// package, whose kernels Stream.Launch can then run: every device opened
// afterwards JIT-compiles it with this package's own modules. Each kernel
// must be an entry of the PTX with exactly the parameters given, and its
// name must be new; packages call it from an init function. The PTX is
// kept, not copied.
func RegisterModule(name string, ptx []byte, kernels ...Kernel) error {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registered[name]; dup || name == "" {
		return fmt.Errorf("cuda: module %q is registered twice or unnamed", name)
	}
	for _, m := range modules() {
		if m == name {
			return fmt.Errorf("cuda: module %q is one of this package's", name)
		}
	}
	entries, err := ptxParams(ptx)
	if err != nil {
		return fmt.Errorf("cuda: module %s: %w", name, err)
	}
	if len(kernels) == 0 {
		return fmt.Errorf("cuda: module %s registers no kernel", name)
	}
	for _, k := range kernels {
		if _, dup := kernelSigs[k.Name]; dup {
			return fmt.Errorf("cuda: module %s: kernel %s exists already", name, k.Name)
		}
		got, ok := entries[k.Name]
		if !ok {
			return fmt.Errorf("cuda: module %s has no kernel %s", name, k.Name)
		}
		if got != k.Params {
			return fmt.Errorf("cuda: module %s: kernel %s takes (%s), registered as (%s)", name, k.Name, got, k.Params)
		}
	}
	for _, k := range kernels {
		kernelSigs[k.Name] = kernelSig{module: name, params: k.Params}
	}
	registered[name] = bytes.TrimRight(ptx, "\x00")
	return nil
}

// registeredNames lists the registered modules, sorted (with regMu held).
func registeredNames() []string {
	out := make([]string, 0, len(registered))
	for m := range registered {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// ptxParams maps each .entry of a PTX module to its parameter letters.
func ptxParams(ptx []byte) (map[string]string, error) {
	entryRE := regexp.MustCompile(`(?s)\.visible \.entry (\w+)\(([^)]*)\)`)
	paramRE := regexp.MustCompile(`\.param \.(\w+)`)
	out := map[string]string{}
	for _, e := range entryRE.FindAllSubmatch(ptx, -1) {
		var sig []byte
		for _, p := range paramRE.FindAllSubmatch(e[2], -1) {
			switch string(p[1]) {
			case "u64":
				sig = append(sig, 'p')
			case "u32", "s32":
				sig = append(sig, 'i')
			case "f32":
				sig = append(sig, 'f')
			case "f64":
				sig = append(sig, 'd')
			default:
				return nil, fmt.Errorf("kernel %s: parameter type %s", e[1], p[1])
			}
		}
		out[string(e[1])] = string(sig)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no kernel entry in the PTX")
	}
	return out, nil
}

// NewArgs starts the arguments of a launch for operation op (named in
// its errors).
func NewArgs(op string) *Args { return &Args{op: op} }

// Buf adds a buffer that must hold exactly want elements.
func (a *Args) Buf(name string, b *Buffer, want int) *Args { return a.buf(name, b, want) }

// Int adds an int parameter, which must fit in an int32.
func (a *Args) Int(name string, v int) *Args { return a.int(name, v) }

// F32 adds a float parameter.
func (a *Args) F32(v float32) *Args { return a.f32(v) }

// Err is the first argument error, if any.
func (a *Args) Err() error { return a.err }

// Launch queues kernel name, of this package or of a registered module,
// on the stream with grid and block dimensions and arguments a, which must
// match the kernel's parameters.
func (s *Stream) Launch(name string, grid, block [3]uint32, a *Args) error {
	return s.run(name, dims{grid, block}, a)
}

// Blocks1 is the grid and block of a 1-D grid-stride launch of n threads in
// blocks of bs (at most 65536 blocks).
func Blocks1(n, bs int) (grid, block [3]uint32) {
	d := blocks1(n, bs)
	return d.grid, d.block
}

// Shape checks a shape v (described by names in the error) of operation
// op and returns its number of elements: an error when it is negative or
// exceeds 2³¹-1.
func Shape(op, names string, v ...int) (int, error) { return shape(op, names, v...) }
