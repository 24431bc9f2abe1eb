// Package dist is the communication data-parallel training needs: a Comm
// connects the processes (ranks) of one run and sums or broadcasts buffers
// among them. It uses the engines clusters already have, opened at run
// time without cgo, as OpenBLAS and CUDA are: MPI (Open MPI's libmpi.so.40,
// launched by mpirun or srun). Loopback connects goroutines of one process
// through the same interface, for tests.
//
// A Comm knows nothing of models or training: the train core decides what
// is summed (gradients, metric sums) and when.
package dist
