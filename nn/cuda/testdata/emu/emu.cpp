// pcx's CPU emulator of the CUDA driver API and cuBLAS, for testing the
// CUDA backend on machines without a GPU.
//
// Built by nn/cuda's tests (see emu_test.go) as a shared library named
// libcuda.so.1 and libcublas.so.12 in a temporary directory, it is loaded by
// the real discovery and purego bindings of package cuda. It runs pcx's
// kernel sources (kernels/*.cu compiled as C++ with PCX_EMU) instead of their
// PTX: every CUDA thread of a block is a fibre (ucontext) and barriers and
// warp shuffles switch fibres, so the kernels' indexing, reductions and
// synchronisation run as written. It checks what a GPU would not report
// clearly:
//   - every launch's pointer arguments point into live device allocations,
//   - allocations have guard zones, verified after every launch and copy
//     (an out-of-bounds write names the kernel),
//   - new allocations are filled with 0xff (NaN), exposing reads of memory
//     nothing wrote,
//   - a barrier reached by only part of a block, or a shuffle by only part
//     of a warp, is reported instead of hanging,
//   - blocks run their threads alternately in forward and reverse order, so
//     a missing barrier shows up as a wrong result,
//   - cuModuleGetFunction finds the kernel in the PTX image the Go side
//     loaded and checks its .param list against the C++ signature,
//   - cuBLAS products check their leading dimensions and that every element
//     they touch lies inside an allocation.
// Streams run synchronously, in call order, and the library is one device
// for the whole process: every entry point holds one lock, so that ranks
// or goroutines calling from several threads take turns, as a GPU's queue
// would order them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>
#include <ucontext.h>

#include "pcx.cuh"

// ---- fibres ------------------------------------------------------------------

std::recursive_mutex emuMu;
#define EMU_LOCK std::lock_guard<std::recursive_mutex> emuLock(emuMu)

namespace {

enum State { RUN, AT_BAR, AT_WARP, DONE };

struct Fiber {
  ucontext_t ctx;
  int tx, ty, lin;
  State state;
  char *stack; // malloc'ed, untouched until used
};

ucontext_t sched_ctx;
Fiber *cur;
int g_ntid_x, g_ntid_y, g_ctaid_x, g_nctaid_x;
// Two phases of shuffle buffers per warp: a lane writes phase p, waits
// for its warp, reads phase p and flips; the next write goes to the other
// phase, so one switch per shuffle suffices.
unsigned shfl_buf[2][32][32];
int shfl_phase[1024];
std::vector<Fiber> fibers;
std::function<void()> body;
std::string fault; // set when a launch fails

void fiber_main() {
  body();
  cur->state = DONE; // uc_link returns to the scheduler
}

} // namespace

int pcx_emu_tid_x() { return cur->tx; }
int pcx_emu_tid_y() { return cur->ty; }
int pcx_emu_ntid_x() { return g_ntid_x; }
int pcx_emu_ntid_y() { return g_ntid_y; }
int pcx_emu_ctaid_x() { return g_ctaid_x; }
int pcx_emu_nctaid_x() { return g_nctaid_x; }

void pcx_emu_sync_threads() {
  cur->state = AT_BAR;
  swapcontext(&cur->ctx, &sched_ctx);
}

unsigned pcx_emu_shfl_xor(unsigned v, int mask) {
  int lane = cur->lin & 31, w = cur->lin >> 5, p = shfl_phase[cur->lin];
  shfl_buf[p][w][lane] = v;
  cur->state = AT_WARP;
  swapcontext(&cur->ctx, &sched_ctx);
  shfl_phase[cur->lin] = 1 - p;
  return shfl_buf[p][w][(lane ^ mask) & 31];
}

#include "kernels_all.inc" // #include of every kernels/*.cu, written by the test

namespace {

// runBlock runs one block of nthreads fibres to completion; false (with
// fault set) on divergent synchronisation.
bool runBlock(int bx, int by, bool reverse) {
  int n = bx * by;
  if ((int)fibers.size() < n) fibers.resize(n, Fiber{});
  for (int i = 0; i < n; i++) {
    Fiber &f = fibers[i];
    const size_t stack = 128 * 1024;
    if (!f.stack) f.stack = (char *)malloc(stack);
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = stack;
    f.ctx.uc_link = &sched_ctx;
    makecontext(&f.ctx, fiber_main, 0);
    f.tx = i % bx;
    f.ty = i / bx;
    f.lin = i;
    f.state = RUN;
    shfl_phase[i] = 0;
  }
  int warps = (n + 31) / 32;
  for (;;) {
    for (int k = 0; k < n; k++) {
      Fiber &f = fibers[reverse ? n - 1 - k : k];
      if (f.state != RUN) continue;
      cur = &f;
      swapcontext(&sched_ctx, &f.ctx);
    }
    bool all_done = true, released = false;
    for (int i = 0; i < n; i++) all_done = all_done && fibers[i].state == DONE;
    if (all_done) return true;
    for (int w = 0; w < warps; w++) {
      int lo = w * 32, hi = lo + 32 < n ? lo + 32 : n, at = 0, done = 0, other = 0;
      for (int i = lo; i < hi; i++) {
        State s = fibers[i].state;
        if (s == AT_WARP) at++;
        else if (s == DONE) done++;
        else other++;
      }
      if (at > 0 && (done > 0 || other > 0)) {
        fault = "warp " + std::to_string(w) + " has " + std::to_string(at) + " lanes at a shuffle and " +
                std::to_string(done) + " exited, " + std::to_string(other) + " at a barrier";
        return false;
      }
      if (at > 0) {
        for (int i = lo; i < hi; i++) fibers[i].state = RUN;
        released = true;
      }
    }
    if (released) continue;
    int bar = 0, done = 0;
    for (int i = 0; i < n; i++) {
      if (fibers[i].state == AT_BAR) bar++;
      if (fibers[i].state == DONE) done++;
    }
    if (bar > 0 && done > 0) {
      fault = std::to_string(bar) + " threads wait at a barrier that " + std::to_string(done) + " exited threads never reach";
      return false;
    }
    for (int i = 0; i < n; i++)
      if (fibers[i].state == AT_BAR) fibers[i].state = RUN;
  }
}

// ---- kernel registry -----------------------------------------------------------

template <typename T> struct Arg;
template <typename T> struct Arg<T *> {
  static T *get(void *p) { return *(T **)p; }
  static char kind() { return 'p'; }
};
template <> struct Arg<int> {
  static int get(void *p) { return *(int *)p; }
  static char kind() { return 'i'; }
};
template <> struct Arg<float> {
  static float get(void *p) { return *(float *)p; }
  static char kind() { return 'f'; }
};
template <> struct Arg<double> {
  static double get(void *p) { return *(double *)p; }
  static char kind() { return 'd'; }
};

struct Kernel {
  std::string name, sig;
  std::function<void(void **)> call;
};

template <typename... A, size_t... I> void invoke(void (*f)(A...), void **p, std::index_sequence<I...>) {
  f(Arg<A>::get(p[I])...);
}

template <typename... A> Kernel make(const char *name, void (*f)(A...)) {
  Kernel k;
  k.name = name;
  k.sig = std::string{Arg<A>::kind()...};
  k.call = [f](void **p) { invoke(f, p, std::index_sequence_for<A...>{}); };
  return k;
}

std::vector<Kernel> &registry() {
  static std::vector<Kernel> r = {
#define K(name) make(#name, name),
#include "kernels_list.inc" // K(pcx_...) for every kernel, written by the test
#undef K
  };
  return r;
}

// ---- device memory -------------------------------------------------------------

const size_t guard = 256;
const unsigned char canary = 0xa5;
struct Alloc {
  size_t size;
  unsigned char *base; // guard, data, guard
};
std::map<uint64_t, Alloc> allocs; // by data address
size_t used, limit = (size_t)1 << 30;

bool inside(uint64_t p, size_t bytes) {
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return false;
  --it;
  return p >= it->first && p + bytes <= it->first + it->second.size;
}

// checkGuards reports a damaged guard zone, and repairs it so that one
// test's deliberate fault does not fail the next.
std::string checkGuards() {
  for (auto &kv : allocs) {
    const Alloc &a = kv.second;
    for (size_t i = 0; i < guard; i++)
      if (a.base[i] != canary || a.base[guard + a.size + i] != canary) {
        char buf[160];
        snprintf(buf, sizeof buf, "a write outside the allocation at %#llx (%zu bytes), %s its end",
                 (unsigned long long)kv.first, a.size, a.base[i] != canary ? "before" : "after");
        memset(a.base, canary, guard);
        memset(a.base + guard + a.size, canary, guard);
        return buf;
      }
  }
  return "";
}

struct Module {
  std::string ptx;
};

std::string lastError;

int fail(int code, const std::string &msg) {
  lastError = msg;
  fprintf(stderr, "pcx-emu: %s\n", msg.c_str());
  return code;
}

// ptxParams extracts the parameter kinds of .entry name from a PTX image:
// "" when absent.
bool ptxParams(const std::string &ptx, const std::string &name, std::string *sig) {
  std::string key = ".entry " + name + "(";
  size_t at = ptx.find(key);
  if (at == std::string::npos) return false;
  size_t end = ptx.find(')', at);
  std::string params = ptx.substr(at + key.size(), end - at - key.size());
  sig->clear();
  for (size_t p = params.find(".param"); p != std::string::npos; p = params.find(".param", p + 1)) {
    size_t t = params.find('.', p + 6);
    std::string ty = params.substr(t, 4);
    if (ty == ".u64") *sig += 'p';
    else if (ty == ".u32" || ty == ".s32") *sig += 'i';
    else if (ty == ".f32") *sig += 'f';
    else if (ty == ".f64") *sig += 'd';
    else *sig += '?';
  }
  return true;
}

} // namespace

// ---- the driver API ----------------------------------------------------------------

typedef int CUresult;
extern "C" {

CUresult cuInit(unsigned) { EMU_LOCK; return 0; }
CUresult cuDriverGetVersion(int *v) { EMU_LOCK; *v = 13000; return 0; }
CUresult cuDeviceGetCount(int *n) { EMU_LOCK; *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int ordinal) { EMU_LOCK; if (ordinal != 0) return 101; *d = 0; return 0; }
CUresult cuDeviceGetName(char *name, int len, int) { EMU_LOCK; snprintf(name, len, "pcx CPU emulator"); return 0; }
CUresult cuDeviceGetAttribute(int *v, int attr, int) { EMU_LOCK;
  switch (attr) {
  case 1: *v = 1024; return 0;  // max threads per block
  case 8: *v = 49152; return 0; // shared memory per block
  case 16: *v = 2; return 0;    // multiprocessors
  case 75: *v = 8; return 0;    // compute capability
  case 76: *v = 0; return 0;
  }
  return 1;
}
CUresult cuDeviceTotalMem_v2(size_t *b, int) { EMU_LOCK; *b = limit; return 0; }
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) { EMU_LOCK; *ctx = (void *)0x1; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int) { EMU_LOCK; return 0; }
CUresult cuCtxSetCurrent(void *) { EMU_LOCK; return 0; }
CUresult cuCtxSynchronize() { EMU_LOCK; return 0; }
CUresult cuMemGetInfo_v2(size_t *f, size_t *t) { EMU_LOCK; *f = limit - used; *t = limit; return 0; }

CUresult cuMemAlloc_v2(uint64_t *p, size_t bytes) { EMU_LOCK;
  if (bytes == 0) return 1;
  if (const char *e = getenv("PCX_EMU_MEM")) limit = strtoull(e, nullptr, 10);
  if (used + bytes > limit) return 2;
  unsigned char *base = (unsigned char *)malloc(bytes + 2 * guard);
  if (!base) return 2;
  memset(base, canary, guard);
  memset(base + guard, 0xff, bytes);
  memset(base + guard + bytes, canary, guard);
  *p = (uint64_t)(base + guard);
  allocs[*p] = Alloc{bytes, base};
  used += bytes;
  return 0;
}
CUresult cuMemFree_v2(uint64_t p) { EMU_LOCK;
  auto it = allocs.find(p);
  if (it == allocs.end()) return fail(1, "cuMemFree of an address never allocated");
  used -= it->second.size;
  free(it->second.base);
  allocs.erase(it);
  return 0;
}
CUresult cuMemAllocHost_v2(void **p, size_t bytes) { EMU_LOCK; *p = malloc(bytes); return *p ? 0 : 2; }
CUresult cuMemFreeHost(void *p) { EMU_LOCK; free(p); return 0; }
CUresult cuMemcpyHtoDAsync_v2(uint64_t dst, const void *src, size_t bytes, void *) { EMU_LOCK;
  if (!inside(dst, bytes)) return fail(1, "host-to-device copy outside device memory");
  memcpy((void *)dst, src, bytes);
  return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, uint64_t src, size_t bytes, void *) { EMU_LOCK;
  if (!inside(src, bytes)) return fail(1, "device-to-host copy outside device memory");
  memcpy(dst, (void *)src, bytes);
  return 0;
}
CUresult cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void *) { EMU_LOCK;
  if (!inside(dst, bytes) || !inside(src, bytes)) return fail(1, "device-to-device copy outside device memory");
  memmove((void *)dst, (void *)src, bytes);
  return 0;
}
CUresult cuMemsetD32Async(uint64_t dst, unsigned v, size_t n, void *) { EMU_LOCK;
  if (!inside(dst, 4 * n)) return fail(1, "memset outside device memory");
  for (size_t i = 0; i < n; i++) ((unsigned *)dst)[i] = v;
  return 0;
}

static uintptr_t handles = 0x1000;
CUresult cuStreamCreate(void **s, unsigned) { EMU_LOCK; *s = (void *)handles++; return 0; }
CUresult cuStreamDestroy_v2(void *) { EMU_LOCK; return 0; }
CUresult cuStreamSynchronize(void *) { EMU_LOCK; return 0; }
CUresult cuStreamWaitEvent(void *, void *, unsigned) { EMU_LOCK; return 0; }
CUresult cuEventCreate(void **e, unsigned) { EMU_LOCK; *e = (void *)handles++; return 0; }
CUresult cuEventRecord(void *, void *) { EMU_LOCK; return 0; }
CUresult cuEventSynchronize(void *) { EMU_LOCK; return 0; }
CUresult cuEventQuery(void *) { EMU_LOCK; return 0; }
CUresult cuEventElapsedTime(float *ms, void *, void *) { EMU_LOCK; *ms = 0; return 0; }
CUresult cuEventDestroy_v2(void *) { EMU_LOCK; return 0; }

CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n, int *opts, void **vals) { EMU_LOCK;
  std::string ptx((const char *)image);
  if (ptx.find(".version") == std::string::npos || ptx.find(".target") == std::string::npos) {
    for (unsigned i = 0; i + 1 < n; i++)
      if (opts[i] == 5 && opts[i + 1] == 6) snprintf((char *)vals[i], (size_t)vals[i + 1], "pcx-emu: not PTX");
    return 218;
  }
  *m = new Module{ptx};
  return 0;
}
CUresult cuModuleUnload(void *m) { EMU_LOCK; delete (Module *)m; return 0; }
CUresult cuModuleGetFunction(void **f, void *m, const char *name) { EMU_LOCK;
  std::string sig;
  if (!ptxParams(((Module *)m)->ptx, name, &sig)) return fail(500, std::string("no .entry ") + name + " in the PTX");
  for (Kernel &k : registry())
    if (k.name == name) {
      if (k.sig != sig) return fail(200, "PTX parameters of " + k.name + " are " + sig + ", the source's " + k.sig);
      *f = &k;
      return 0;
    }
  return fail(500, std::string("the emulator has no kernel ") + name);
}

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *, void **params, void **extra) { EMU_LOCK;
  Kernel &k = *(Kernel *)f;
  if (extra != nullptr || shared != 0) return fail(1, k.name + ": extra or dynamic shared memory given");
  if (gx == 0 || gy != 1 || gz != 1 || bz != 1 || bx * by == 0 || bx * by > 1024 || by > 64)
    return fail(1, k.name + ": bad launch geometry");
  for (size_t i = 0; i < k.sig.size(); i++) {
    if (k.sig[i] != 'p') continue;
    uint64_t p = *(uint64_t *)params[i];
    if (p != 0 && !inside(p, 1)) {
      char buf[64];
      snprintf(buf, sizeof buf, " argument %zu (%#llx)", i, (unsigned long long)p);
      return fail(700, k.name + buf + " is not in device memory");
    }
  }
  body = [&k, params]() { k.call(params); };
  g_ntid_x = bx;
  g_ntid_y = by;
  g_nctaid_x = gx;
  for (unsigned b = 0; b < gx; b++) {
    g_ctaid_x = b;
    if (!runBlock(bx, by, b % 2 == 1)) return fail(719, k.name + ", block " + std::to_string(b) + ": " + fault);
  }
  std::string g = checkGuards();
  if (!g.empty()) return fail(700, k.name + ": " + g);
  return 0;
}

CUresult cuGetErrorString(CUresult r, const char **s) { EMU_LOCK;
  static std::string msg;
  msg = "pcx-emu error " + std::to_string(r) + (lastError.empty() ? "" : ": " + lastError);
  *s = msg.c_str();
  return 0;
}

// ---- cuBLAS --------------------------------------------------------------------

typedef int cublasStatus_t;
cublasStatus_t cublasCreate_v2(void **h) { EMU_LOCK; *h = (void *)handles++; return 0; }
cublasStatus_t cublasDestroy_v2(void *) { EMU_LOCK; return 0; }
cublasStatus_t cublasSetStream_v2(void *, void *) { EMU_LOCK; return 0; }
cublasStatus_t cublasSetMathMode(void *, int mode) { EMU_LOCK; return mode == 0 || mode == 3 ? 0 : 7; }
cublasStatus_t cublasGetVersion_v2(void *, int *v) { EMU_LOCK; *v = 130100; return 0; }

static cublasStatus_t gemm(int ta, int tb, int m, int n, int k, const float *alpha, const float *A, int lda,
                           long long sa, const float *B, int ldb, long long sb, const float *beta, float *C, int ldc,
                           long long sc, int batch) {
  if (m < 0 || n < 0 || k < 0 || batch < 0) return 7;
  int ar = ta == 0 ? m : k, ac = ta == 0 ? k : m, br = tb == 0 ? k : n, bc = tb == 0 ? n : k;
  if (lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1)) {
    fail(7, "cuBLAS leading dimension too small");
    return 7;
  }
  if (m == 0 || n == 0) return 0;
  for (int q = 0; q < batch; q++) {
    const float *a = A + q * sa, *b = B + q * sb;
    float *c = C + q * sc;
    // Every element touched must be device memory (column-major extents).
    if ((k > 0 && *alpha != 0 && (!inside((uint64_t)a, 4 * ((size_t)(ac - 1) * lda + ar)) ||
                                  !inside((uint64_t)b, 4 * ((size_t)(bc - 1) * ldb + br)))) ||
        !inside((uint64_t)c, 4 * ((size_t)(n - 1) * ldc + m))) {
      char buf[256];
      snprintf(buf, sizeof buf, "cuBLAS operand outside device memory (ta %d tb %d m %d n %d k %d lda %d ldb %d ldc %d batch %d/%d, A %p B %p C %p)",
               ta, tb, m, n, k, lda, ldb, ldc, q, batch, (void *)a, (void *)b, (void *)c);
      fail(13, buf);
      return 13;
    }
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        double acc = 0;
        for (int l = 0; l < k; l++) {
          float av = ta == 0 ? a[i + (size_t)l * lda] : a[l + (size_t)i * lda];
          float bv = tb == 0 ? b[l + (size_t)j * ldb] : b[j + (size_t)l * ldb];
          acc += (double)av * (double)bv;
        }
        float &cv = c[i + (size_t)j * ldc];
        double r = (double)*alpha * acc;
        if (*beta != 0) r += (double)*beta * (double)cv;
        cv = (float)r;
      }
  }
  std::string g = checkGuards();
  if (!g.empty()) return fail(13, "cuBLAS: " + g);
  return 0;
}

cublasStatus_t cublasSgemm_v2(void *, int ta, int tb, int m, int n, int k, const float *alpha, const float *A,
                              int lda, const float *B, int ldb, const float *beta, float *C, int ldc) { EMU_LOCK;
  return gemm(ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(void *, int ta, int tb, int m, int n, int k, const float *alpha,
                                         const float *A, int lda, long long sa, const float *B, int ldb,
                                         long long sb, const float *beta, float *C, int ldc, long long sc,
                                         int batch) { EMU_LOCK;
  return gemm(ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

} // extern "C"
