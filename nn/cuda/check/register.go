package check

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn/cuda"
)

// Register adds a case, run after those of this package and those
// registered before it, for operations whose kernels live outside nn/cuda
// (a module registered with cuda.RegisterModule): fn draws its inputs from
// Env.Rand, runs the operation on the CPU and on Env.Stream, and records
// its outputs' differences with Env.Cmp and Env.CmpIdx. blas says it uses
// cuBLAS (the TF32 tolerance applies). Packages call it from an init
// function; a second case of the same name panics.
func Register(name string, blas bool, fn func(e *Env)) {
	for _, c := range cases {
		if c.name == name {
			panic(fmt.Sprintf("check: case %s registered twice", name))
		}
	}
	cases = append(cases, namedCase{name, func(e *env) { fn(&Env{e}) }, blas})
}

// Env is what a registered case works with: the device's stream, the
// case's random numbers and helpers that record the first error and do
// nothing after it (so a case need not check each step).
type Env struct{ e *env }

// Stream is the stream to run on.
func (e *Env) Stream() *cuda.Stream { return e.e.s }

// Rand is the case's random source (seeded from Options.Seed and the
// case's place in the list).
func (e *Env) Rand() *rand.Rand { return e.e.rng }

// Pick returns small with Options.Small, else full.
func (e *Env) Pick(small, full int) int { return e.e.pick(small, full) }

// Fail records err (the first error fails the case).
func (e *Env) Fail(err error) { e.e.fail(err) }

// OK says no error was recorded.
func (e *Env) OK() bool { return e.e.ok() }

// Timed runs f, the device side of the case, adding its time to the case.
func (e *Env) Timed(f func() error) { e.e.timed(f) }

// Alloc returns a buffer of n elements, freed after the case.
func (e *Env) Alloc(n int) *cuda.Buffer { return e.e.alloc(n) }

// Up uploads float32 data to a new buffer, freed after the case.
func (e *Env) Up(v []float32) *cuda.Buffer { return e.e.up(v) }

// Down downloads a buffer of float32.
func (e *Env) Down(b *cuda.Buffer) []float32 { return e.e.down(b) }

// DownIdx downloads a buffer of int32.
func (e *Env) DownIdx(b *cuda.Buffer) []int32 { return e.e.downI(b) }

// Cmp records the relative difference of a float output.
func (e *Env) Cmp(name string, gpu, cpu []float32) { e.e.cmp(name, gpu, cpu) }

// CmpIdx records the fraction of differing indices of an index output
// (compared exactly).
func (e *Env) CmpIdx(name string, gpu, cpu []int32) { e.e.cmpI(name, gpu, cpu) }
