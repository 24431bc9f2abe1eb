// BatchNorm1d over the channel (last) axis of a rows×c tensor, PyTorch
// semantics, in double like nn.BatchNorm: batch statistics (biased
// variance) in training with the running statistics updated with the
// unbiased variance, running statistics in evaluation. mean and rstd are
// double arrays of c values (2c 32-bit words).
#include "pcx.cuh"

// Training statistics and the running update. Launch with blocks of 32×8
// threads, ceil(c/32) blocks; rows ≥ 2.
PCX_KERNEL pcx_bn_stats(double *mean, double *rstd, float *run_mean, float *run_var, const float *x,
                        int rows, int c, float eps, float momentum) {
  PCX_SHARED double part[8][32];
  PCX_SHARED double mu[32];
  int tx = tid_x(), ty = tid_y(), col = ctaid_x() * 32 + tx;
  double s = 0;
  if (col < c)
    for (int r = ty; r < rows; r += ntid_y()) s += x[(long long)r * c + col];
  part[ty][tx] = s;
  sync_threads();
  if (ty == 0) {
    double t = 0;
    for (int k = 0; k < ntid_y(); k++) t += part[k][tx];
    mu[tx] = t / rows;
  }
  sync_threads();
  double m = mu[tx], q = 0;
  if (col < c)
    for (int r = ty; r < rows; r += ntid_y()) {
      double d = x[(long long)r * c + col] - m;
      q += d * d;
    }
  part[ty][tx] = q; // safe: thread 0 of each column read part before the last barrier
  sync_threads();
  if (ty == 0 && col < c) {
    double t = 0;
    for (int k = 0; k < ntid_y(); k++) t += part[k][tx];
    double mom = (double)momentum;
    mean[col] = m;
    rstd[col] = 1 / sqrt_rn_d(t / rows + (double)eps);
    run_mean[col] = (float)((1 - mom) * (double)run_mean[col] + mom * m);
    run_var[col] = (float)((1 - mom) * (double)run_var[col] + mom * (t / (rows - 1)));
  }
}

// Evaluation statistics from the running ones.
PCX_KERNEL pcx_bn_eval_stats(double *mean, double *rstd, const float *run_mean, const float *run_var,
                             int c, float eps) {
  for (long long k = gidx(); k < c; k += gstride()) {
    mean[k] = run_mean[k];
    rstd[k] = 1 / sqrt_rn_d((double)run_var[k] + (double)eps);
  }
}

// out = (x-μ)·rstd·w + b, element-wise.
PCX_KERNEL pcx_bn_fwd(float *out, const float *x, const double *mean, const double *rstd, const float *w,
                      const float *b, int rows, int c) {
  long long n = (long long)rows * c;
  for (long long i = gidx(); i < n; i += gstride()) {
    int k = (int)(i % c);
    out[i] = (float)(((double)x[i] - mean[k]) * rstd[k] * (double)w[k] + (double)b[k]);
  }
}

// Column sums for backward: sum_d = Σ dout, sum_dx = Σ dout·x̂ (double
// arrays of c), and dw += sum_dx, db += sum_d when not null. Launch like
// pcx_bn_stats.
PCX_KERNEL pcx_bn_bwd_sums(double *sum_d, double *sum_dx, float *dw, float *db, const float *dout,
                           const float *x, const double *mean, const double *rstd, int rows, int c) {
  PCX_SHARED double pd[8][32], px[8][32];
  int tx = tid_x(), ty = tid_y(), col = ctaid_x() * 32 + tx;
  double a = 0, ax = 0;
  if (col < c) {
    double m = mean[col], rs = rstd[col];
    for (int r = ty; r < rows; r += ntid_y()) {
      long long o = (long long)r * c + col;
      double d = dout[o], xh = ((double)x[o] - m) * rs;
      a += d;
      ax += d * xh;
    }
  }
  pd[ty][tx] = a;
  px[ty][tx] = ax;
  sync_threads();
  if (ty == 0 && col < c) {
    double t = 0, tx2 = 0;
    for (int k = 0; k < ntid_y(); k++) {
      t += pd[k][tx];
      tx2 += px[k][tx];
    }
    sum_d[col] = t;
    sum_dx[col] = tx2;
    if (dw) dw[col] += (float)tx2;
    if (db) db[col] += (float)t;
  }
}

// dx += w·rstd·(dout - sum_d/rows - x̂·sum_dx/rows) in training, w·rstd·dout
// in evaluation.
PCX_KERNEL pcx_bn_bwd_dx(float *dx, const float *dout, const float *x, const float *w, const double *mean,
                         const double *rstd, const double *sum_d, const double *sum_dx, int rows, int c,
                         int train) {
  long long n = (long long)rows * c;
  double nr = rows;
  for (long long i = gidx(); i < n; i += gstride()) {
    int k = (int)(i % c);
    double d = dout[i], g = (double)w[k] * rstd[k];
    if (!train) {
      dx[i] += (float)(d * g);
      continue;
    }
    double xh = ((double)x[i] - mean[k]) * rstd[k];
    dx[i] += (float)(g * (d - sum_d[k] / nr - xh * sum_dx[k] / nr));
  }
}
