// Element-wise kernels: fill, add, scale, axpy, ReLU and GELU (exact, tanh,
// QuickGELU) with their backward. n is the element count; every kernel is a
// grid-stride loop, so any grid size is correct. Backward kernels
// accumulate (dx +=), as the engine's gradients do.
#include "pcx.cuh"

// out[i] = v.
PCX_KERNEL pcx_fill(float *out, float v, int n) {
  for (long long i = gidx(); i < n; i += gstride()) out[i] = v;
}

// out = a + b.
PCX_KERNEL pcx_add(float *out, const float *a, const float *b, int n) {
  for (long long i = gidx(); i < n; i += gstride()) out[i] = a[i] + b[i];
}

// out = alpha·x (out may be x).
PCX_KERNEL pcx_scale(float *out, const float *x, float alpha, int n) {
  for (long long i = gidx(); i < n; i += gstride()) out[i] = alpha * x[i];
}

// y += alpha·x: the backward of add (alpha 1) and scale.
PCX_KERNEL pcx_axpy(float *y, const float *x, float alpha, int n) {
  for (long long i = gidx(); i < n; i += gstride()) y[i] += alpha * x[i];
}

// out = max(x, 0), NaN kept (Go's max).
PCX_KERNEL pcx_relu_fwd(float *out, const float *x, int n) {
  for (long long i = gidx(); i < n; i += gstride()) {
    float v = x[i];
    out[i] = (v > 0 || is_nan(v)) ? v : 0.0f;
  }
}

// dx += dout where the output was positive.
PCX_KERNEL pcx_relu_bwd(float *dx, const float *dout, const float *out, int n) {
  for (long long i = gidx(); i < n; i += gstride())
    if (out[i] > 0) dx[i] += dout[i];
}

// GELU's variants, the kind parameter of pcx_gelu_fwd and pcx_gelu_bwd
// (nn.GELUExact, nn.GELUTanh, nn.GELUQuick).
#define PCX_GELU_EXACT 0
#define PCX_GELU_TANH 1
#define PCX_GELU_QUICK 2

// QuickGELU's 1.702, as float32.
#define PCX_QUICK_ALPHA 1.702f

// out = GELU(x): exact (x·Φ(x)), the tanh form, or QuickGELU (x·σ(1.702·x)).
PCX_KERNEL pcx_gelu_fwd(float *out, const float *x, int n, int kind) {
  for (long long i = gidx(); i < n; i += gstride()) {
    float v = x[i];
    if (kind == PCX_GELU_QUICK) {
      out[i] = v / (1 + pcx_expf(-PCX_QUICK_ALPHA * v));
    } else if (kind == PCX_GELU_TANH) {
      float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
      out[i] = 0.5f * v * (1 + pcx_tanhf(u));
    } else {
      float pdf;
      out[i] = v * pcx_normcdf(v, &pdf);
    }
  }
}

// dx += dout·GELU'(x); for QuickGELU GELU'(x) = s + 1.702·x·s·(1-s),
// s = σ(1.702·x).
PCX_KERNEL pcx_gelu_bwd(float *dx, const float *dout, const float *x, int n, int kind) {
  for (long long i = gidx(); i < n; i += gstride()) {
    float v = x[i], d;
    if (kind == PCX_GELU_QUICK) {
      float s = 1 / (1 + pcx_expf(-PCX_QUICK_ALPHA * v));
      d = s + v * s * (1 - s) * PCX_QUICK_ALPHA; // v·s first: no overflow at |v| near FLT_MAX
    } else if (kind == PCX_GELU_TANH) {
      const float k = 0.7978845608028654f;
      float t = pcx_tanhf(k * (v + 0.044715f * v * v * v));
      d = 0.5f * (1 + t) + 0.5f * v * (1 - t * t) * k * (1 + 3 * 0.044715f * v * v);
    } else {
      float pdf, cdf = pcx_normcdf(v, &pdf);
      d = cdf + v * pdf;
    }
    dx[i] += d * dout[i];
  }
}

// out[0] = scale·Σ x, summed in double by one block (launch with one block
// of 256 threads): deterministic, for losses.
PCX_KERNEL pcx_reduce_sum(float *out, const float *x, int n, float scale) {
  PCX_SHARED double part[32];
  double s = 0;
  for (int i = tid_x(); i < n; i += ntid_x()) s += x[i];
  s = warp_sum_d(s);
  if (lane_id() == 0) part[warp_id()] = s;
  sync_threads();
  if (tid_x() == 0) {
    double t = 0;
    for (int w = 0; w < (ntid_x() + 31) / 32; w++) t += part[w];
    out[0] = (float)((double)scale * t);
  }
}
