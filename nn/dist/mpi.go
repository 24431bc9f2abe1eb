//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package dist

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/pcx-dev/pcx/internal/dynlib"
)

// EnvMPI names the environment variable that gives libmpi's path.
const EnvMPI = "PCX_MPI"

// mpiCandidates are the libraries tried, in order: PCX_MPI alone when it
// is set, otherwise Open MPI's library by dlopen's own search and in the
// usual places.
func mpiCandidates() []string {
	if p := strings.TrimSpace(os.Getenv(EnvMPI)); p != "" {
		return []string{p}
	}
	multiarch := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	names := []string{"libmpi.so.40", "libmpi.so"}
	for _, d := range []string{"/usr/lib/" + multiarch, "/usr/lib/" + multiarch + "/openmpi/lib", "/usr/lib64/openmpi/lib", "/usr/lib64", "/usr/local/lib", "/opt/openmpi/lib"} {
		names = append(names, d+"/libmpi.so.40")
	}
	if runtime.GOOS == "darwin" {
		names = []string{"libmpi.40.dylib", "/opt/homebrew/lib/libmpi.40.dylib", "/usr/local/lib/libmpi.40.dylib"}
	}
	return names
}

// mpi is a Comm over Open MPI's C interface, called through purego. Every
// call runs on one locked OS thread, the one that initialised MPI, so the
// library may provide any thread level.
type mpi struct {
	rank, size int
	version    string
	calls      chan func()
	closeOnce  sync.Once

	world, float, double, byte_, sum uintptr

	initThread func(argc, argv unsafe.Pointer, required int32, provided *int32) int32
	commRank   func(comm uintptr, rank *int32) int32
	commSize   func(comm uintptr, size *int32) int32
	setErrh    func(comm, errh uintptr) int32
	allreduce  func(send uintptr, recv unsafe.Pointer, count int32, dt, op, comm uintptr) int32
	bcast      func(buf unsafe.Pointer, count int32, dt uintptr, root int32, comm uintptr) int32
	send       func(buf unsafe.Pointer, count int32, dt uintptr, dest, tag int32, comm uintptr) int32
	recv       func(buf unsafe.Pointer, count int32, dt uintptr, src, tag int32, comm, status uintptr) int32
	finalize   func() int32
	abort      func(comm uintptr, code int32) int32
	errString  func(code int32, s *byte, n *int32) int32
	libVersion func(s *byte, n *int32) int32
}

const (
	mpiInPlace         = 1 // MPI_IN_PLACE in Open MPI's mpi.h
	mpiThreadFunneled  = 1
	mpiMaxString       = 256 // MPI_MAX_ERROR_STRING, MPI_MAX_LIBRARY_VERSION_STRING
	mpiChunk           = 1 << 28
	mpiTagOrderedSum   = 7301
	mpiErrorsReturnSym = "ompi_mpi_errors_return"
)

var (
	mpiOnce sync.Once
	mpiComm *mpi
	mpiErr  error
)

// OpenMPI initialises MPI (once per process) and returns the world
// communicator of the ranks mpirun or srun started.
func OpenMPI() (Comm, error) {
	mpiOnce.Do(func() { mpiComm, mpiErr = openMPI(mpiCandidates()) })
	if mpiErr != nil {
		return nil, mpiErr
	}
	return mpiComm, nil
}

func openMPI(cands []string) (*mpi, error) {
	var m *mpi
	// Open MPI's components are libraries that need libmpi's symbols
	// global.
	open := func(p string) (uintptr, error) { return purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL) }
	errs, ok := dynlib.First(cands, open, func(_ string, h uintptr) (err error) {
		m, err = bindMPI(h)
		return err
	})
	if ok {
		return m, m.start()
	}
	return nil, fmt.Errorf("dist: Open MPI's library (libmpi.so.40) not found; install it (Debian: apt install openmpi-bin) or set %s to its path; tried %s",
		EnvMPI, strings.Join(errs, "; "))
}

// bindMPI finds the functions and the predefined handles (in Open MPI's
// ABI, the addresses of its global objects).
func bindMPI(h uintptr) (*mpi, error) {
	m := &mpi{calls: make(chan func())}
	handles := []struct {
		dst  *uintptr
		name string
	}{{&m.world, "ompi_mpi_comm_world"}, {&m.float, "ompi_mpi_float"}, {&m.double, "ompi_mpi_double"},
		{&m.byte_, "ompi_mpi_byte"}, {&m.sum, "ompi_mpi_op_sum"}}
	for _, s := range handles {
		a, err := purego.Dlsym(h, s.name)
		if err != nil || a == 0 {
			return nil, fmt.Errorf("no %s (not Open MPI's ABI)", s.name)
		}
		*s.dst = a
	}
	funcs := []struct {
		fptr any
		name string
	}{{&m.initThread, "MPI_Init_thread"}, {&m.commRank, "MPI_Comm_rank"}, {&m.commSize, "MPI_Comm_size"},
		{&m.setErrh, "MPI_Comm_set_errhandler"}, {&m.allreduce, "MPI_Allreduce"}, {&m.bcast, "MPI_Bcast"},
		{&m.send, "MPI_Send"}, {&m.recv, "MPI_Recv"}, {&m.finalize, "MPI_Finalize"}, {&m.abort, "MPI_Abort"},
		{&m.errString, "MPI_Error_string"}, {&m.libVersion, "MPI_Get_library_version"}}
	for _, f := range funcs {
		a, err := purego.Dlsym(h, f.name)
		if err != nil || a == 0 {
			return nil, fmt.Errorf("no %s", f.name)
		}
		purego.RegisterFunc(f.fptr, a)
	}
	return m, nil
}

// start locks a thread for MPI, initialises it there and reads the rank.
func (m *mpi) start() error {
	// Open MPI's own handlers of SIGSEGV and friends would replace Go's,
	// and its idle ranks would spin on a core the others need.
	for k, v := range map[string]string{"OMPI_MCA_opal_signal": "", "OMPI_MCA_mpi_yield_when_idle": "1"} {
		if _, ok := os.LookupEnv(k); !ok {
			os.Setenv(k, v)
		}
	}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // for good: MPI stays on this thread
		var provided int32
		if rc := m.initThread(nil, nil, mpiThreadFunneled, &provided); rc != 0 {
			ready <- fmt.Errorf("dist: MPI_Init_thread failed (code %d)", rc)
			return
		}
		ready <- m.check(m.setErrh(m.world, m.errorsReturn()), "MPI_Comm_set_errhandler")
		for f := range m.calls {
			f()
		}
	}()
	if err := <-ready; err != nil {
		return err
	}
	var r, s int32
	var err error
	m.do(func() {
		if err = m.check(m.commRank(m.world, &r), "MPI_Comm_rank"); err == nil {
			err = m.check(m.commSize(m.world, &s), "MPI_Comm_size")
		}
		buf := make([]byte, mpiMaxString+1)
		var n int32
		if m.libVersion(&buf[0], &n) == 0 && n > 0 {
			m.version = strings.TrimSpace(strings.SplitN(string(buf[:min(int(n), len(buf))]), ",", 2)[0])
		}
	})
	m.rank, m.size = int(r), int(s)
	return err
}

// errorsReturn is MPI_ERRORS_RETURN, so that a failed call returns its
// code instead of ending the process.
func (m *mpi) errorsReturn() uintptr {
	// Looked up through the process's global symbols: libmpi is loaded
	// RTLD_GLOBAL.
	h, err := purego.Dlopen("", purego.RTLD_NOW)
	if err != nil {
		return 0
	}
	a, _ := purego.Dlsym(h, mpiErrorsReturnSym)
	return a
}

// do runs f on the MPI thread and waits for it.
func (m *mpi) do(f func()) {
	done := make(chan struct{})
	m.calls <- func() { f(); close(done) }
	<-done
}

func (m *mpi) check(rc int32, what string) error {
	if rc == 0 {
		return nil
	}
	buf := make([]byte, mpiMaxString+1)
	var n int32
	msg := fmt.Sprintf("code %d", rc)
	if m.errString != nil && m.errString(rc, &buf[0], &n) == 0 && n > 0 {
		msg = string(buf[:min(int(n), len(buf))])
	}
	return fmt.Errorf("dist: %s failed: %s", what, msg)
}

func (m *mpi) Rank() int { return m.rank }
func (m *mpi) Size() int { return m.size }

func (m *mpi) Name() string {
	v := m.version
	if v == "" {
		v = "Open MPI"
	}
	return fmt.Sprintf("mpi (%s, %d ranks)", v, m.size)
}

func (m *mpi) SumFloat32(x []float32, ordered bool) error {
	if len(x) == 0 || m.size == 1 {
		return nil
	}
	if ordered {
		return m.orderedSum(x)
	}
	return chunks(len(x), mpiChunk, func(lo, hi int) (err error) {
		m.do(func() {
			err = m.check(m.allreduce(mpiInPlace, unsafe.Pointer(&x[lo]), int32(hi-lo), m.float, m.sum, m.world), "MPI_Allreduce")
		})
		return err
	})
}

func (m *mpi) SumFloat64(x []float64) error {
	if len(x) == 0 || m.size == 1 {
		return nil
	}
	return chunks(len(x), mpiChunk, func(lo, hi int) (err error) {
		m.do(func() {
			err = m.check(m.allreduce(mpiInPlace, unsafe.Pointer(&x[lo]), int32(hi-lo), m.double, m.sum, m.world), "MPI_Allreduce")
		})
		return err
	})
}

// orderedSum passes the running sum along the ranks, 0 to size-1, each
// adding its own x, and the last rank broadcasts the total.
func (m *mpi) orderedSum(x []float32) error {
	var in []float32
	if m.rank > 0 {
		in = make([]float32, min(len(x), mpiChunk))
	}
	return chunks(len(x), mpiChunk, func(lo, hi int) (err error) {
		part := x[lo:hi]
		m.do(func() {
			if m.rank > 0 {
				if err = m.check(m.recv(unsafe.Pointer(&in[0]), int32(len(part)), m.float, int32(m.rank-1), mpiTagOrderedSum, m.world, 0), "MPI_Recv"); err != nil {
					return
				}
				for i, v := range in[:len(part)] {
					part[i] = v + part[i]
				}
			}
			if m.rank < m.size-1 {
				if err = m.check(m.send(unsafe.Pointer(&part[0]), int32(len(part)), m.float, int32(m.rank+1), mpiTagOrderedSum, m.world), "MPI_Send"); err != nil {
					return
				}
			}
			err = m.check(m.bcast(unsafe.Pointer(&part[0]), int32(len(part)), m.float, int32(m.size-1), m.world), "MPI_Bcast")
		})
		return err
	})
}

func (m *mpi) Broadcast(b []byte, root int) error {
	if len(b) == 0 || m.size == 1 {
		return nil
	}
	if root < 0 || root >= m.size {
		return fmt.Errorf("dist: broadcast from rank %d of %d", root, m.size)
	}
	return chunks(len(b), mpiChunk, func(lo, hi int) (err error) {
		m.do(func() {
			err = m.check(m.bcast(unsafe.Pointer(&b[lo]), int32(hi-lo), m.byte_, int32(root), m.world), "MPI_Bcast")
		})
		return err
	})
}

func (m *mpi) Abort(code int) {
	m.do(func() { m.abort(m.world, int32(code)) })
}

func (m *mpi) Close() error {
	err := errors.New("dist: MPI already closed")
	m.closeOnce.Do(func() {
		m.do(func() { err = m.check(m.finalize(), "MPI_Finalize") })
		close(m.calls)
	})
	return err
}
