// The maximum over the middle axis of an a×m×c tensor (the max over the
// points of each group), with the argmax kept for backward.
#include "pcx.cuh"

// out[i,k] = max_j x[i,j,k], arg[i,k] = the first j reaching it; a NaN at
// j = 0 stays, as in nn.MaxMiddle. One thread per (i, k).
PCX_KERNEL pcx_max_middle_fwd(float *out, int *arg, const float *x, int a, int m, int c) {
  long long n = (long long)a * c;
  for (long long t = gidx(); t < n; t += gstride()) {
    long long i = t / c;
    int k = (int)(t % c);
    const float *xi = x + i * m * c + k;
    float best = xi[0];
    int bj = 0;
    for (int j = 1; j < m; j++) {
      float v = xi[(long long)j * c];
      if (v > best) {
        best = v;
        bj = j;
      }
    }
    out[t] = best;
    arg[t] = bj;
  }
}

// dx[i,arg,k] += dout[i,k]: one target per thread, no conflicts.
PCX_KERNEL pcx_max_middle_bwd(float *dx, const float *dout, const int *arg, int a, int m, int c) {
  long long n = (long long)a * c;
  for (long long t = gidx(); t < n; t += gstride()) {
    long long i = t / c;
    int k = (int)(t % c), j = arg[t];
    if (j < 0 || j >= m) continue;
    dx[(i * m + j) * c + k] += dout[t];
  }
}
