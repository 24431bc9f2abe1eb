// pcx.cuh: the small runtime every pcx kernel is written against.
//
// The kernels use no CUDA header and no libdevice: thread indices, barriers,
// warp shuffles and IEEE-rounded arithmetic are inline PTX, and the few
// transcendental functions (exp, log, erf) are written out below. So the same
// sources compile with `clang --cuda-device-only -nocudainc -nocudalib` and
// with nvcc, and the results do not depend on a math library.
//
// With PCX_EMU defined the sources compile as ordinary C++ for pcx's CPU
// emulator (nn/cuda/testdata/emu), which provides the PCX_EMU half of this
// runtime: every CUDA thread is a fibre, barriers and shuffles switch fibres.
//
// Rules the kernels follow, which the emulator enforces:
//   - every thread of a block reaches every sync_threads() (a thread may only
//     leave early when no barrier follows), and
//   - every lane of a warp takes part in every shuffle (a whole warp may leave
//     early together).
#pragma once

#ifdef PCX_EMU

#define PCX_KERNEL extern "C" void
#define PCX_DEV static inline
#define PCX_SHARED static
// Provided by the emulator.
int pcx_emu_tid_x();
int pcx_emu_tid_y();
int pcx_emu_ntid_x();
int pcx_emu_ntid_y();
int pcx_emu_ctaid_x();
int pcx_emu_nctaid_x();
void pcx_emu_sync_threads();
unsigned pcx_emu_shfl_xor(unsigned v, int mask);
PCX_DEV int tid_x() { return pcx_emu_tid_x(); }
PCX_DEV int tid_y() { return pcx_emu_tid_y(); }
PCX_DEV int ntid_x() { return pcx_emu_ntid_x(); }
PCX_DEV int ntid_y() { return pcx_emu_ntid_y(); }
PCX_DEV int ctaid_x() { return pcx_emu_ctaid_x(); }
PCX_DEV int nctaid_x() { return pcx_emu_nctaid_x(); }
PCX_DEV void sync_threads() { pcx_emu_sync_threads(); }
PCX_DEV unsigned shfl_xor_u(unsigned v, int m) { return pcx_emu_shfl_xor(v, m); }
// The emulator is compiled with -ffp-contract=off, so these round like the
// PTX instructions.
PCX_DEV float mul_rn(float a, float b) { return a * b; }
PCX_DEV float add_rn(float a, float b) { return a + b; }
PCX_DEV float sqrt_rn(float x) { return __builtin_sqrtf(x); }
PCX_DEV double sqrt_rn_d(double x) { return __builtin_sqrt(x); }

#else // CUDA device code

#ifndef __global__
#define __global__ __attribute__((global))
#endif
#ifndef __device__
#define __device__ __attribute__((device))
#endif
#ifndef __shared__
#define __shared__ __attribute__((shared))
#endif
#define PCX_KERNEL extern "C" __global__ void
#define PCX_DEV static __device__ inline __attribute__((always_inline))
#define PCX_SHARED __shared__

PCX_DEV int tid_x() { int r; asm("mov.u32 %0, %%tid.x;" : "=r"(r)); return r; }
PCX_DEV int tid_y() { int r; asm("mov.u32 %0, %%tid.y;" : "=r"(r)); return r; }
PCX_DEV int ntid_x() { int r; asm("mov.u32 %0, %%ntid.x;" : "=r"(r)); return r; }
PCX_DEV int ntid_y() { int r; asm("mov.u32 %0, %%ntid.y;" : "=r"(r)); return r; }
PCX_DEV int ctaid_x() { int r; asm("mov.u32 %0, %%ctaid.x;" : "=r"(r)); return r; }
PCX_DEV int nctaid_x() { int r; asm("mov.u32 %0, %%nctaid.x;" : "=r"(r)); return r; }
PCX_DEV void sync_threads() { asm volatile("bar.sync 0;" ::: "memory"); }
PCX_DEV unsigned shfl_xor_u(unsigned v, int m) {
  unsigned r;
  asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 31, -1;" : "=r"(r) : "r"(v), "r"(m));
  return r;
}
// Explicitly rounded operations are never fused into an FMA (PTX ISA,
// "mul"/"add" with .rn), so distances round exactly as pcx's Go code.
PCX_DEV float mul_rn(float a, float b) { float r; asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r; }
PCX_DEV float add_rn(float a, float b) { float r; asm("add.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r; }
PCX_DEV float sqrt_rn(float x) { float r; asm("sqrt.rn.f32 %0, %1;" : "=f"(r) : "f"(x)); return r; }
PCX_DEV double sqrt_rn_d(double x) { double r; asm("sqrt.rn.f64 %0, %1;" : "=d"(r) : "d"(x)); return r; }

#endif

// ---- bits and constants -------------------------------------------------

typedef unsigned long long u64;

PCX_DEV unsigned f2u(float f) { union { float f; unsigned u; } v; v.f = f; return v.u; }
PCX_DEV float u2f(unsigned u) { union { float f; unsigned u; } v; v.u = u; return v.f; }
PCX_DEV u64 d2u(double d) { union { double d; u64 u; } v; v.d = d; return v.u; }
PCX_DEV double u2d(u64 u) { union { double d; u64 u; } v; v.u = u; return v.d; }
PCX_DEV float pinf() { return u2f(0x7f800000u); }
PCX_DEV float qnan() { return u2f(0x7fc00000u); }
PCX_DEV double qnan_d() { return u2d(0x7ff8000000000000ull); }
PCX_DEV bool is_nan(float x) { return x != x; }

// ---- indices -------------------------------------------------------------

// gidx/gstride drive grid-stride loops over n elements with 64-bit indices.
PCX_DEV long long gidx() { return (long long)ctaid_x() * ntid_x() + tid_x(); }
PCX_DEV long long gstride() { return (long long)nctaid_x() * ntid_x(); }
PCX_DEV int lane_id() { return tid_x() & 31; }
PCX_DEV int warp_id() { return tid_x() >> 5; }

// ---- warp reductions (every lane of the warp must call them) --------------

PCX_DEV float shfl_xor_f(float v, int m) { return u2f(shfl_xor_u(f2u(v), m)); }
PCX_DEV double shfl_xor_d(double v, int m) {
  u64 u = d2u(v);
  unsigned lo = shfl_xor_u((unsigned)u, m), hi = shfl_xor_u((unsigned)(u >> 32), m);
  return u2d(((u64)hi << 32) | lo);
}
PCX_DEV u64 shfl_xor_u64(u64 u, int m) {
  unsigned lo = shfl_xor_u((unsigned)u, m), hi = shfl_xor_u((unsigned)(u >> 32), m);
  return ((u64)hi << 32) | lo;
}
// The butterfly leaves the same result in every lane.
PCX_DEV float warp_sum_f(float v) {
  for (int m = 16; m > 0; m >>= 1) v += shfl_xor_f(v, m);
  return v;
}
PCX_DEV double warp_sum_d(double v) {
  for (int m = 16; m > 0; m >>= 1) v += shfl_xor_d(v, m);
  return v;
}
// warp_max_f propagates NaN as Go's max does.
PCX_DEV float warp_max_f(float v) {
  for (int m = 16; m > 0; m >>= 1) {
    float o = shfl_xor_f(v, m);
    if (o > v || is_nan(o)) v = o;
  }
  return v;
}
PCX_DEV u64 warp_min_u64(u64 v) {
  for (int m = 16; m > 0; m >>= 1) {
    u64 o = shfl_xor_u64(v, m);
    if (o < v) v = o;
  }
  return v;
}
// warp_argmax keeps the largest value and, on ties, the lowest index.
PCX_DEV void warp_argmax(float &v, int &i) {
  for (int m = 16; m > 0; m >>= 1) {
    float ov = shfl_xor_f(v, m);
    int oi = (int)shfl_xor_u((unsigned)i, m);
    if (ov > v || (ov == v && oi < i)) { v = ov; i = oi; }
  }
}

// ---- math ---------------------------------------------------------------

// pcx_expf: exp(x) in float32 by range reduction with ln 2 split in two and
// a degree-6 polynomial (relative error about 2e-7), the same arithmetic as
// nn/cpu's expf; 0 below -87 and +Inf above 88.72.
PCX_DEV float pcx_expf(float x) {
  if (is_nan(x)) return x;
  if (x < -87.0f) return 0.0f;
  if (x > 88.72f) return pinf();
  const float ln2hi = 0.693359375f, ln2lo = -2.12194440e-4f, invln2 = 1.44269504f;
  float t = x * invln2 + 0.5f;
  int n = (int)t;
  if ((float)n > t) n--; // floor
  float fn = (float)n;
  float r = x - fn * ln2hi - fn * ln2lo;
  float p = (1.0f / 720) * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1;
  p = p * r + 1;
  if (n > 127) { p *= 2; n--; }
  return u2f((unsigned)(n + 127) << 23) * p;
}

// pcx_log_d: natural logarithm of a positive, finite, normal double:
// x = 2^e·f with f in [√½, √2), log f = 2·atanh(u), u = (f-1)/(f+1),
// |u| ≤ 0.1716, by its series to u^21 (error below 1e-17).
PCX_DEV double pcx_log_d(double x) {
  if (!(x > 0)) return x == 0 ? -(double)pinf() : qnan_d();
  u64 b = d2u(x);
  int e = (int)((b >> 52) & 0x7ff) - 1023;
  double f = u2d((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull); // [1, 2)
  if (f > 1.4142135623730951) { f *= 0.5; e++; }
  double u = (f - 1) / (f + 1), u2 = u * u;
  double s = 0;
  for (int k = 21; k >= 3; k -= 2) s = (s + 1.0 / k) * u2;
  s = (s + 1) * u;
  return 2 * s + e * 0.6931471805599453;
}

// pcx_normcdf: Φ(x) and the normal density φ(x) in float32, exactly as
// nn/cpu's normCDF: erf(x/√2) by Abramowitz and Stegun 7.1.26, whose
// exp(-z²) factor is the density's too.
PCX_DEV float pcx_normcdf(float x, float *pdf) {
  const float p = 0.3275911f, a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f,
              a4 = -1.453152027f, a5 = 1.061405429f;
  float z = x * 0.70710678f;
  float az = z < 0 ? -z : z;
  float e = pcx_expf(-z * z);
  float t = 1 / (1 + p * az);
  float erf = 1 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * e;
  if (z < 0) erf = -erf;
  *pdf = e * 0.39894228f;
  return 0.5f * (1 + erf);
}

// pcx_tanhf: tanh through exp, for the tanh approximation of GELU.
PCX_DEV float pcx_tanhf(float u) {
  if (u > 9.0f) return 1.0f;
  if (u < -9.0f) return -1.0f;
  float e = pcx_expf(2 * u);
  return (e - 1) / (e + 1);
}

// dist3: the squared distance ((dx·dx + dy·dy) + dz·dz) rounded at every
// step, as pcx's fps and knn packages compute it.
PCX_DEV float dist3(float px, float py, float pz, float qx, float qy, float qz) {
  float dx = px - qx, dy = py - qy, dz = pz - qz;
  return add_rn(add_rn(mul_rn(dx, dx), mul_rn(dy, dy)), mul_rn(dz, dz));
}
