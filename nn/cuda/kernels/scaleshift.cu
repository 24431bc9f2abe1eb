// Scale-and-shift (SSF): the per-channel affine x·γ + β over the last axis,
// and its reductions for dγ and dβ.
#include "pcx.cuh"

// out = x·γ (+ β when not null).
PCX_KERNEL pcx_scaleshift_fwd(float *out, const float *x, const float *gamma, const float *beta, int rows,
                              int c) {
  long long n = (long long)rows * c;
  for (long long i = gidx(); i < n; i += gstride()) {
    int k = (int)(i % c);
    float o = x[i] * gamma[k];
    if (beta) o += beta[k];
    out[i] = o;
  }
}

// dx += dout·γ.
PCX_KERNEL pcx_scaleshift_bwd_dx(float *dx, const float *dout, const float *gamma, int rows, int c) {
  long long n = (long long)rows * c;
  for (long long i = gidx(); i < n; i += gstride()) dx[i] += dout[i] * gamma[(int)(i % c)];
}

// dγ += Σ_rows dout·x, dβ += Σ_rows dout (either may be null), in double.
// Launch with blocks of 32×8 threads, ceil(c/32) blocks.
PCX_KERNEL pcx_scaleshift_bwd_dgdb(float *dgamma, float *dbeta, const float *dout, const float *x, int rows,
                                   int c) {
  PCX_SHARED double sg[8][32], sb[8][32];
  int tx = tid_x(), ty = tid_y(), col = ctaid_x() * 32 + tx;
  double ag = 0, ab = 0;
  if (col < c)
    for (int r = ty; r < rows; r += ntid_y()) {
      long long o = (long long)r * c + col;
      float d = dout[o];
      ag += d * x[o];
      ab += d;
    }
  sg[ty][tx] = ag;
  sb[ty][tx] = ab;
  sync_threads();
  if (ty == 0 && col < c) {
    double tg = 0, tb = 0;
    for (int k = 0; k < ntid_y(); k++) {
      tg += sg[k][tx];
      tb += sb[k][tx];
    }
    if (dgamma) dgamma[col] += (float)tg;
    if (dbeta) dbeta[col] += (float)tb;
  }
}
