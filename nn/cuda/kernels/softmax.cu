// Softmax over the rows of a rows×c tensor: the engine's Softmax, the
// attention probabilities and their backward. One warp per row.
#include "pcx.cuh"

// out = softmax(scale·x) per row (out may be x). Launch with blocks of 32·r
// threads.
PCX_KERNEL pcx_softmax_fwd(float *out, const float *x, int rows, int c, float scale) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= rows) return;
  long long o = (long long)row * c;
  float m = -pinf();
  for (int i = lane; i < c; i += 32) {
    float v = scale * x[o + i];
    if (v > m || is_nan(v)) m = v;
  }
  m = warp_max_f(m);
  float s = 0;
  for (int i = lane; i < c; i += 32) {
    float e = pcx_expf(scale * x[o + i] - m);
    out[o + i] = e;
    s += e;
  }
  float inv = 1 / warp_sum_f(s);
  for (int i = lane; i < c; i += 32) out[o + i] *= inv;
}

// dx = scale·y⊙(dy - Σ dy⊙y) per row, added to dx when accumulate is set
// (dx may be dy when it is not: attention's in-place dS).
PCX_KERNEL pcx_softmax_bwd(float *dx, const float *dy, const float *y, int rows, int c, float scale,
                           int accumulate) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= rows) return;
  long long o = (long long)row * c;
  float dot = 0;
  for (int i = lane; i < c; i += 32) dot += y[o + i] * dy[o + i];
  dot = warp_sum_f(dot);
  for (int i = lane; i < c; i += 32) {
    float r = y[o + i] * (dy[o + i] - dot);
    if (scale != 1) r *= scale;
    if (accumulate)
      dx[o + i] += r;
    else
      dx[o + i] = r;
  }
}
