package dist

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// Comm connects the ranks of one run. Every rank must make the same calls
// in the same order (they are collective), each with a buffer of the same
// length.
type Comm interface {
	// Rank is this process's place, 0 to Size()-1; rank 0 writes the run.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// SumFloat32 replaces x on every rank with the elementwise sum of every
	// rank's x. With ordered, the sum is a left fold in rank order,
	// ((x₀+x₁)+x₂)+…, the same bits on every run; otherwise the engine
	// chooses the order (for two ranks the bits are the same either way).
	SumFloat32(x []float32, ordered bool) error
	// SumFloat64 replaces x on every rank with the elementwise sum of every
	// rank's x, in the engine's order. Callers that need exact sums give
	// each rank its own slots, the others zero.
	SumFloat64(x []float64) error
	// Broadcast replaces b on every rank with root's b.
	Broadcast(b []byte, root int) error
	// Name describes the engine: "mpi (Open MPI v4.1.4, 2 ranks)".
	Name() string
	// Abort ends every rank of the run at once, with code as the exit
	// status (for a failure the others cannot learn of otherwise).
	Abort(code int)
	// Close ends this rank's part; the Comm is unusable after it.
	Close() error
}

// Backends names the values of --dist.
const Backends = "auto, mpi or none"

// Launcher describes the launcher that started this process as one of
// several ranks, from the environment it sets ("" and 1: not launched as
// one of several): Open MPI's mpirun (OMPI_COMM_WORLD_SIZE), a PMI
// launcher such as srun or MPICH's mpiexec (PMI_SIZE, PMIX_RANK with
// SLURM_NTASKS), or torchrun (WORLD_SIZE).
func Launcher() (name string, size int) {
	for _, v := range []struct{ name, env string }{
		{"mpirun", "OMPI_COMM_WORLD_SIZE"},
		{"pmi", "PMI_SIZE"},
		{"srun", "SLURM_NTASKS"},
		{"torchrun", "WORLD_SIZE"},
	} {
		if s, err := strconv.Atoi(strings.TrimSpace(os.Getenv(v.env))); err == nil && s > 0 {
			return v.name, s
		}
	}
	return "", 1
}

// LocalRanks is the number of ranks on this machine as the launcher says
// (1 when it does not), for dividing the machine's cores among them.
func LocalRanks() int {
	for _, env := range []string{"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE", "LOCAL_WORLD_SIZE"} {
		if s, err := strconv.Atoi(strings.TrimSpace(os.Getenv(env))); err == nil && s > 0 {
			return s
		}
	}
	return 1
}

// Open connects this process to the run's other ranks with backend (auto,
// mpi or none). auto chooses mpi when a launcher started several ranks
// and none otherwise; none, or auto in a process started alone, returns a
// nil Comm (train alone).
func Open(backend string) (Comm, error) {
	launcher, size := Launcher()
	switch backend {
	case "", "auto":
		if size <= 1 {
			return nil, nil
		}
		if launcher == "torchrun" {
			return nil, fmt.Errorf("dist: started by torchrun (WORLD_SIZE=%d), whose rendezvous pcx does not use; launch pcx with mpirun or srun", size)
		}
		return OpenMPI()
	case "none":
		if size > 1 {
			return nil, fmt.Errorf("dist: --dist none, but %s started %d ranks: each would train alone into the same run directory; use --dist mpi or start one process", launcher, size)
		}
		return nil, nil
	case "mpi":
		return OpenMPI()
	}
	return nil, fmt.Errorf("dist: unknown backend %q (%s)", backend, Backends)
}

// BroadcastFloat32 is Broadcast of a float32 buffer.
func BroadcastFloat32(c Comm, x []float32, root int) error {
	if len(x) == 0 {
		return nil
	}
	return c.Broadcast(unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x)), root)
}

// BroadcastBytes sends root's b, of any length, to every rank and returns
// it there (b is only read on root).
func BroadcastBytes(c Comm, b []byte, root int) ([]byte, error) {
	n := make([]byte, 8)
	if c.Rank() == root {
		putU64(n, uint64(len(b)))
	}
	if err := c.Broadcast(n, root); err != nil {
		return nil, err
	}
	size := getU64(n)
	if size > 1<<40 {
		return nil, fmt.Errorf("dist: a broadcast of %d bytes", size)
	}
	if c.Rank() != root {
		b = make([]byte, size)
	}
	return b, c.Broadcast(b, root)
}

func putU64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

func getU64(b []byte) uint64 {
	var v uint64
	for i := range 8 {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}

// chunks calls f on consecutive pieces of n elements of at most max each
// (MPI counts are 32-bit ints).
func chunks(n, max int, f func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += max {
		if err := f(lo, min(lo+max, n)); err != nil {
			return err
		}
	}
	return nil
}
