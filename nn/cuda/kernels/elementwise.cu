// Element-wise kernels: fill, add, scale, axpy, ReLU and GELU with their
// backward. n is the element count; every kernel is a grid-stride loop, so
// any grid size is correct. Backward kernels accumulate (dx +=), as the
// engine's gradients do.
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

// out = GELU(x): exact (x·Φ(x)) or, when tanh_approx is set, the tanh form.
PCX_KERNEL pcx_gelu_fwd(float *out, const float *x, int n, int tanh_approx) {
  for (long long i = gidx(); i < n; i += gstride()) {
    float v = x[i];
    if (tanh_approx) {
      float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
      out[i] = 0.5f * v * (1 + pcx_tanhf(u));
    } else {
      float pdf;
      out[i] = v * pcx_normcdf(v, &pdf);
    }
  }
}

// dx += dout·GELU'(x).
PCX_KERNEL pcx_gelu_bwd(float *dx, const float *dout, const float *x, int n, int tanh_approx) {
  for (long long i = gidx(); i < n; i += gstride()) {
    float v = x[i], d;
    if (tanh_approx) {
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
