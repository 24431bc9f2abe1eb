// The engine's remaining operations: Linear's bias and its column sum,
// strided copies (token and channel concatenation and slicing, columns),
// row repetition, token means, per-row scales, top-1 gating, dot products
// with a constant, dropout (Philox), AdamW and the squared norm for
// gradient clipping. Backward kernels accumulate (dx += ...).
#include "pcx.cuh"

// out[r, k] = b[k] for rows×c.
PCX_KERNEL pcx_bias_rows(float *out, const float *b, int rows, int c) {
  long long n = (long long)rows * c;
  for (long long i = gidx(); i < n; i += gstride()) out[i] = b[(int)(i % c)];
}

// db[k] += Σ_r dy[r, k], the sum in float in row order (as nn.Linear's
// loop). One thread per column.
PCX_KERNEL pcx_colsum(float *db, const float *dy, int rows, int c) {
  for (long long k = gidx(); k < c; k += gstride()) {
    float s = db[k];
    for (int r = 0; r < rows; r++) s += dy[(long long)r * c + k];
    db[k] = s;
  }
}

// dst[r·ds + k] (+)= src[r·ss + k] for r < rows, k < cols.
PCX_KERNEL pcx_copy2d(float *dst, const float *src, int rows, int cols, int ds, int ss, int acc) {
  long long n = (long long)rows * cols;
  for (long long i = gidx(); i < n; i += gstride()) {
    long long r = i / cols, k = i % cols;
    float v = src[r * ss + k];
    if (acc) dst[r * ds + k] += v;
    else dst[r * ds + k] = v;
  }
}

// out (a×m×c)[i, j, k] = x[i, k].
PCX_KERNEL pcx_repeat_fwd(float *out, const float *x, int a, int m, int c) {
  long long n = (long long)a * m * c;
  for (long long i = gidx(); i < n; i += gstride()) out[i] = x[(i / ((long long)m * c)) * c + i % c];
}

// dx[i, k] += Σ_j dout[i, j, k], summed in float in j order.
PCX_KERNEL pcx_repeat_bwd(float *dx, const float *dout, int a, int m, int c) {
  long long n = (long long)a * c;
  for (long long i = gidx(); i < n; i += gstride()) {
    long long row = i / c, k = i % c;
    float s = dx[i];
    for (int j = 0; j < m; j++) s += dout[(row * m + j) * c + k];
    dx[i] = s;
  }
}

// out (b×c) = mean over t of x (b×t×c): the float sum in token order times
// inv (= 1/t), as nn.MeanTokens.
PCX_KERNEL pcx_mean_tokens_fwd(float *out, const float *x, int b, int t, int c, float inv) {
  long long n = (long long)b * c;
  for (long long i = gidx(); i < n; i += gstride()) {
    long long s0 = i / c, k = i % c;
    float s = 0;
    for (int j = 0; j < t; j++) s += x[(s0 * t + j) * c + k];
    out[i] = s * inv;
  }
}

// dx[i, j, k] += dout[i, k]·inv.
PCX_KERNEL pcx_mean_tokens_bwd(float *dx, const float *dout, int b, int t, int c, float inv) {
  long long n = (long long)b * t * c;
  for (long long i = gidx(); i < n; i += gstride()) dx[i] += dout[(i / ((long long)t * c)) * c + i % c] * inv;
}

// out[r, k] = x[r, k]·s[r].
PCX_KERNEL pcx_rowscale_fwd(float *out, const float *x, const float *s, int rows, int c) {
  long long n = (long long)rows * c;
  for (long long i = gidx(); i < n; i += gstride()) out[i] = x[i] * s[i / c];
}

// dx[r, k] += dout·s[r] (dx may be null); ds[r] += Σ_k dout·x (ds may be
// null). One warp per row.
PCX_KERNEL pcx_rowscale_bwd(float *dx, float *ds, const float *dout, const float *x, const float *s, int rows,
                            int c) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= rows) return;
  long long o = (long long)row * c;
  float sr = s[row], acc = 0;
  for (int k = lane; k < c; k += 32) {
    float d = dout[o + k];
    if (dx) dx[o + k] += d * sr;
    acc += d * x[o + k];
  }
  acc = warp_sum_f(acc);
  if (ds && lane == 0) ds[row] += acc;
}

// Per row of p (rows×c): out keeps the largest entry (the first on ties)
// and zeroes the rest; arg (int32) records its column.
PCX_KERNEL pcx_top1_fwd(float *out, int *arg, const float *p, int rows, int c) {
  for (long long r = gidx(); r < rows; r += gstride()) {
    const float *row = p + r * c;
    int best = 0;
    for (int j = 1; j < c; j++)
      if (row[j] > row[best]) best = j;
    for (int j = 0; j < c; j++) out[r * c + j] = j == best ? row[j] : 0.0f;
    arg[r] = best;
  }
}

// dp[r, arg[r]] += dout[r, arg[r]].
PCX_KERNEL pcx_top1_bwd(float *dp, const float *dout, const int *arg, int rows, int c) {
  for (long long r = gidx(); r < rows; r += gstride()) {
    long long o = r * c + arg[r];
    dp[o] += dout[o];
  }
}

// out[0] = Σ x·w in double by one block of 256 threads.
PCX_KERNEL pcx_dot(float *out, const float *x, const float *w, int n) {
  PCX_SHARED double part[32];
  double s = 0;
  for (int i = tid_x(); i < n; i += ntid_x()) s += (double)x[i] * (double)w[i];
  s = warp_sum_d(s);
  if (lane_id() == 0) part[warp_id()] = s;
  sync_threads();
  if (tid_x() == 0) {
    double t = 0;
    for (int w8 = 0; w8 < (ntid_x() + 31) / 32; w8++) t += part[w8];
    out[0] = (float)t;
  }
}

// y += alpha[0]·x, the scalar on the device (a loss's gradient).
PCX_KERNEL pcx_axpy_dev(float *y, const float *x, const float *alpha, int n) {
  float a = alpha[0];
  for (long long i = gidx(); i < n; i += gstride()) y[i] += a * x[i];
}

// dx += dout·mask.
PCX_KERNEL pcx_mul_acc(float *dx, const float *dout, const float *mask, int n) {
  for (long long i = gidx(); i < n; i += gstride()) dx[i] += dout[i] * mask[i];
}

// ---- Philox4x32-10 (Salmon et al., SC 2011) ------------------------------

PCX_DEV unsigned mulhilo(unsigned a, unsigned b, unsigned *hi) {
  u64 p = (u64)a * (u64)b;
  *hi = (unsigned)(p >> 32);
  return (unsigned)p;
}

// philox returns word w (0..3) of Philox4x32-10 at counter (lo, hi, 0, 0)
// under key (k0, k1).
PCX_DEV unsigned philox(unsigned lo, unsigned hi, unsigned k0, unsigned k1, int w) {
  unsigned c0 = lo, c1 = hi, c2 = 0, c3 = 0;
  for (int round = 0; round < 10; round++) {
    unsigned h0, h1;
    unsigned l0 = mulhilo(0xD2511F53u, c0, &h0);
    unsigned l1 = mulhilo(0xCD9E8D57u, c2, &h1);
    unsigned n0 = h1 ^ c1 ^ k0, n1 = l1, n2 = h0 ^ c3 ^ k1, n3 = l0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return w == 0 ? c0 : w == 1 ? c1 : w == 2 ? c2 : c3;
}

// Dropout: element i keeps with probability 1-p, u_i = (word >> 8)·2⁻²⁴ of
// Philox at counter i/4 (word i%4) under key (k0, k1), kept when u_i ≥ p;
// mask = scale (1/(1-p)) where kept, else 0; out = x·mask.
PCX_KERNEL pcx_dropout_fwd(float *out, float *mask, const float *x, int n, float p, float scale, int k0, int k1) {
  for (long long i = gidx(); i < n; i += gstride()) {
    unsigned q = (unsigned)(i >> 2);
    unsigned word = philox(q, 0, (unsigned)k0, (unsigned)k1, (int)(i & 3));
    float u = (float)(word >> 8) * (1.0f / 16777216.0f);
    float m = u >= p ? scale : 0.0f;
    mask[i] = m;
    out[i] = x[i] * m;
  }
}

// AdamW, as optim.AdamW.Step: moments in float, the update in double.
// c1, c2 are 1-β1, 1-β2 rounded from double (as torch takes them);
// decay is 1 - lr·wd (or 1), step = lr/(1-β1^t), sbc2 = √(1-β2^t).
PCX_KERNEL pcx_adamw(float *p, const float *g, float *m, float *v, int n, float b1, float b2, float c1, float c2,
                     double eps, double step, double decay, double sbc2) {
  for (long long i = gidx(); i < n; i += gstride()) {
    float gi = g[i];
    float mi = add_rn(mul_rn(b1, m[i]), mul_rn(c1, gi));
    float vi = add_rn(mul_rn(b2, v[i]), mul_rn(mul_rn(c2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    double denom = sqrt_rn_d((double)vi) / sbc2 + eps;
    p[i] = (float)((double)p[i] * decay - step * (double)mi / denom);
  }
}

// acc[0] (a double) += Σ x², by one block of 256 threads.
PCX_KERNEL pcx_sumsq(double *acc, const float *x, int n) {
  PCX_SHARED double part[32];
  double s = 0;
  for (int i = tid_x(); i < n; i += ntid_x()) s += (double)x[i] * (double)x[i];
  s = warp_sum_d(s);
  if (lane_id() == 0) part[warp_id()] = s;
  sync_threads();
  if (tid_x() == 0) {
    double t = 0;
    for (int w8 = 0; w8 < (ntid_x() + 31) / 32; w8++) t += part[w8];
    acc[0] += t;
  }
}
