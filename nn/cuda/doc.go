// Package cuda is pcx's GPU backend: the CUDA driver API and cuBLAS, loaded
// at run time with purego (no cgo: the package builds with CGO_ENABLED=0
// and a binary that uses it starts on machines without a GPU), pcx's own
// kernels compiled from kernels/*.cu to PTX and embedded, a caching device
// allocator, streams, events and pinned host memory.
//
// Importing the package does nothing: no library is opened before Open.
//
// # Where the libraries are looked for
//
// Open loads libcuda.so.1 (the driver) and cuBLAS, trying in order:
//
//  1. the directories of Options.Libs.Dirs, then those of PCX_CUDA_LIBS
//     (separated by ':'): for the driver DIR/libcuda.so.1, for cuBLAS
//     DIR/libcublas.so.13, .so.12 and .so.11;
//  2. unless Options.Libs.Only or PCX_CUDA_LIBS_ONLY=1: dlopen's own search
//     for those names (LD_LIBRARY_PATH, the ld.so cache, /lib, /usr/lib);
//  3. for the driver: /usr/lib/<multiarch>, /usr/lib64, /usr/lib,
//     /usr/local/nvidia/lib64 (containers) and /usr/lib/wsl/lib (WSL),
//     never a CUDA toolkit's stubs directory;
//  4. for cuBLAS: /usr/local/cuda/lib64 and its targets/<arch>/lib, every
//     /usr/local/cuda-X.Y (newest first), the NVIDIA Python wheels
//     (site-packages/nvidia/*/lib, which holds nvidia/cu13/lib of CUDA 13
//     and nvidia/cublas/lib of CUDA 12) of $VIRTUAL_ENV, $CONDA_PREFIX,
//     ~/.local, /usr/local/lib/python3*, /usr/lib/python3* and /opt/conda,
//     $CONDA_PREFIX/lib, and the system library directories.
//
// The first file that opens and exports every function pcx binds is used;
// cuBLAS's companion libcublasLt of the same version is opened first from
// the same directory. When nothing is found, the error (a *MissingError) is
// one sentence naming what is missing and every place looked.
//
// # Kernels
//
// kernels/*.cu are CUDA C written against kernels/pcx.cuh, which needs no
// CUDA header; scripts/gen_ptx.sh (go generate) compiles them with clang or
// nvcc to PTX for sm_80 (PTX ISA 7.5), which the driver JIT-compiles for the
// GPU in use (sm_80 and later, H100 included). Each .ptx records the SHA-256
// of its sources, and a test fails when they disagree. The operations are
// methods of Stream (ops.go, attention.go, chamfer.go); matrix products go
// through cuBLAS (Stream.Gemm), with TF32 only when Options.TF32 is set.
//
// # The engine on the GPU
//
// Package nn defines a small interface, nn.Device (memory, copies and one
// method per kernel family), and keeps everything else: tensors, the tape,
// and each operation's forward and backward logic, which dispatches to the
// device when its inputs live there (host inputs without gradients, such
// as a batch's groups, are uploaded by the operation). Engine implements
// nn.Device with this package's kernels on one stream, so nn never imports
// CUDA and its CPU path is unchanged but for one nil check per operation.
// Models need no change: Params.ToDevice moves the parameters (Data stays
// their host copy, refreshed by SyncHost), train.Options.Device runs a
// whole training run there, and optim's AdamW and ClipGradNorm update and
// measure device gradients in place (pcx_adamw, pcx_sumsq). Tape memory
// comes from the caching allocator and is freed on Release; gradients are
// freed in Backward as soon as consumed. Device failures panic as
// *nn.DeviceError, which train turns into the run's error.
//
// Dropout on the GPU draws its mask with Philox4x32-10 keyed by one
// Uint64 of the step's random stream (reproducible, but not the CPU's
// mask); drop-path draws its per-sample factors on the host exactly as the
// CPU does. BatchNorm's num_batches_tracked stays on the host
// (Param.Host). DAPT-X's balance loss needs the routing counts, so its
// gate probabilities are downloaded once per block.
//
// Grouping: with a device, training, pcx eval and pcx predict group each
// batch on the GPU (points.Grouper, implemented for an Engine by package
// points/cuda, whose kernels are registered with RegisterModule and run
// with Stream.Launch: the sampled, augmented clouds are uploaded and
// points/cuda.Group runs FPS, kNN and the
// relative gather in Task.Logits), not in the CPU loader; pcx train
// --group-on-host keeps the loader's grouping. The groups are identical
// (indices bit for bit, tested on the emulator: a run's metrics are equal
// either way), so this choice only moves work. It was chosen without a
// GPU measurement, by this argument: at scan_hardest's size the loader's
// kNN grouping costs about 10 ms of CPU per batch of 32 (pcx bench step's
// group_ms on the CPU) on top of the per-sample FPS to PointAll that stays
// in the loader, while on the GPU FPS 2048→128 and kNN are one block or
// warp per cloud or centre and well under a millisecond; with two loader
// workers and a GPU step of tens of milliseconds the loader is the likely
// bottleneck, so taking work off it can only help. The epoch metrics'
// data_wait shows whether the loader still holds the GPU back; if it does,
// raise train.workers.
//
// Not yet on the GPU (gaps to measure on hardware): the per-sample FPS to
// PointAll and the augmentation stay in the loader; batches are uploaded
// synchronously rather than through the Prefetcher (pinned memory, a
// second stream); DAPT-X's balance loss downloads each block's gate
// probabilities. None of this has run on a real GPU yet: pcx bench
// step|fps|knn --device cuda, scripts/bench_step.py --device cuda and
// scripts/gpu_check.sh are prepared for the first GPU session.
//
// # Precision
//
// The kernels follow package nn's CPU arithmetic: reductions that nn does
// in float64 (LayerNorm and BatchNorm statistics, sums over rows) are
// double here, exp and erf are the same float32 formulas as nn/cpu, and
// distances for FPS and kNN round at every step exactly like packages fps
// and knn, so centre and neighbour indices agree with the CPU bit for bit.
// Chamfer-L2 (nn.ChamferL2) forms its squared distances in double exactly
// as nn/cpu does, so its nearest distances, indices and gradients are the
// CPU's bit for bit (its backward gathers over the indices: no atomics).
// Where summation order differs (a warp's tree against a sequential loop,
// cuBLAS against nn/blas), results agree to about 1e-6 relative.
package cuda
