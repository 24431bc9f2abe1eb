// LayerNorm over the last axis of a rows×c tensor, PyTorch semantics
// (biased variance, eps inside the square root), fused: one warp per row.
// Statistics are summed in double, as nn/cpu does; the per-row mean and
// 1/σ are saved for backward.
#include "pcx.cuh"

// out = (x-μ)/σ·w + b; w and b may be null. Launch with blocks of 32·r
// threads, r rows per block.
PCX_KERNEL pcx_layernorm_fwd(float *out, float *mean, float *rstd, const float *x, const float *w,
                             const float *b, int rows, int c, float eps) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= rows) return; // the whole warp leaves: no barrier follows
  const float *xr = x + (long long)row * c;
  float *orow = out + (long long)row * c;
  double s = 0;
  for (int i = lane; i < c; i += 32) s += xr[i];
  double m = warp_sum_d(s) / c;
  double v2 = 0;
  for (int i = lane; i < c; i += 32) {
    double d = xr[i] - m;
    v2 += d * d;
  }
  v2 = warp_sum_d(v2);
  double rs = 1 / sqrt_rn_d(v2 / c + (double)eps);
  float fm = (float)m, fr = (float)rs;
  if (lane == 0) {
    mean[row] = fm;
    rstd[row] = fr;
  }
  for (int i = lane; i < c; i += 32) {
    float n = (xr[i] - fm) * fr;
    if (w) n *= w[i];
    if (b) n += b[i];
    orow[i] = n;
  }
}

// dx += rstd·(dn - mean(dn) - n·mean(dn·n)) with n the normalised input
// and dn = dout·w. One warp per row.
PCX_KERNEL pcx_layernorm_bwd_dx(float *dx, const float *dout, const float *x, const float *w,
                                const float *mean, const float *rstd, int rows, int c) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= rows) return;
  long long o = (long long)row * c;
  float m = mean[row], rs = rstd[row];
  double sumD = 0, sumDN = 0;
  for (int i = lane; i < c; i += 32) {
    float n = (x[o + i] - m) * rs, dn = dout[o + i];
    if (w) dn *= w[i];
    sumD += dn;
    sumDN += dn * n;
  }
  sumD = warp_sum_d(sumD);
  sumDN = warp_sum_d(sumDN);
  float mD = (float)(sumD / c), mDN = (float)(sumDN / c);
  for (int i = lane; i < c; i += 32) {
    float n = (x[o + i] - m) * rs, dn = dout[o + i];
    if (w) dn *= w[i];
    dx[o + i] += rs * (dn - mD - n * mDN);
  }
}

// dw += Σ_rows dout·n, db += Σ_rows dout (either may be null). Launch with
// blocks of 32×8 threads and ceil(c/32) blocks: thread (x, y) sums rows
// y, y+8, ... of column 32·block + x in double, then the 8 partial sums
// are added in a fixed order: deterministic.
PCX_KERNEL pcx_layernorm_bwd_dwdb(float *dw, float *db, const float *dout, const float *x,
                                  const float *mean, const float *rstd, int rows, int c) {
  PCX_SHARED double sw[8][32], sb[8][32];
  int tx = tid_x(), ty = tid_y(), col = ctaid_x() * 32 + tx;
  double aw = 0, ab = 0;
  if (col < c) {
    for (int r = ty; r < rows; r += ntid_y()) {
      long long o = (long long)r * c + col;
      float g = dout[o], n = (x[o] - mean[r]) * rstd[r];
      aw += g * n;
      ab += g;
    }
  }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  sync_threads();
  if (ty == 0 && col < c) {
    double tw = 0, tb = 0;
    for (int k = 0; k < ntid_y(); k++) {
      tw += sw[k][tx];
      tb += sb[k][tx];
    }
    if (dw) dw[col] += (float)tw;
    if (db) db[col] += (float)tb;
  }
}
