// The SMoA router of adapters.SMoA: the sub-tokens' projections z (n×r)
// are scored against the L2-normalised expert embeddings en (e×r), and a
// softmax over the e experts gives the gates. The projection itself
// (z = sub·Wᵀ) and its backward are matrix products (cuBLAS).
//   forward:  pcx_l2norm_fwd(en, norm, emb) ; pcx_router_fwd(probs, z, en)
//   backward: pcx_router_bwd_dz(dz, dscores, dprobs, probs, en) ;
//             pcx_router_bwd_den(den, dscores, z) ; pcx_l2norm_bwd(demb, den, en, norm)
#include "pcx.cuh"

// out = x / max(‖x‖₂, eps) per row of c values, norm[r] = ‖x_r‖₂
// (torch.nn.functional.normalize). One warp per row.
PCX_KERNEL pcx_l2norm_fwd(float *out, float *norm, const float *x, int rows, int c, float eps) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= rows) return;
  long long o = (long long)row * c;
  double s = 0;
  for (int i = lane; i < c; i += 32) s += (double)x[o + i] * (double)x[o + i];
  float nr = (float)sqrt_rn_d(warp_sum_d(s));
  float d = nr > eps ? nr : eps;
  if (lane == 0) norm[row] = nr;
  for (int i = lane; i < c; i += 32) out[o + i] = x[o + i] / d;
}

// dx += (dout - y·(y·dout)) / ‖x‖, or dout/eps where ‖x‖ ≤ eps.
PCX_KERNEL pcx_l2norm_bwd(float *dx, const float *dout, const float *y, const float *norm, int rows, int c,
                          float eps) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= rows) return;
  long long o = (long long)row * c;
  float nr = norm[row];
  if (nr <= eps) { // the divisor was the constant eps
    for (int i = lane; i < c; i += 32) dx[o + i] += dout[o + i] / eps;
    return;
  }
  float dot = 0;
  for (int i = lane; i < c; i += 32) dot += dout[o + i] * y[o + i];
  dot = warp_sum_f(dot);
  for (int i = lane; i < c; i += 32) dx[o + i] += (dout[o + i] - y[o + i] * dot) / nr;
}

// probs[t,p] = softmax_p(z_t·en_p). One thread per sub-token t; e and r are
// small (experts and the adapters' rank).
PCX_KERNEL pcx_router_fwd(float *probs, const float *z, const float *en, int n, int e, int r) {
  for (long long t = gidx(); t < n; t += gstride()) {
    const float *zt = z + t * r;
    float *pt = probs + t * e;
    float m = -pinf();
    for (int p = 0; p < e; p++) {
      float s = 0;
      for (int j = 0; j < r; j++) s += zt[j] * en[p * r + j];
      pt[p] = s;
      if (s > m || is_nan(s)) m = s;
    }
    float sum = 0;
    for (int p = 0; p < e; p++) {
      float x = pcx_expf(pt[p] - m);
      pt[p] = x;
      sum += x;
    }
    float inv = 1 / sum;
    for (int p = 0; p < e; p++) pt[p] *= inv;
  }
}

// dscores = probs⊙(dprobs - Σ dprobs⊙probs) (written) and dz += dscores·en.
// One thread per sub-token.
PCX_KERNEL pcx_router_bwd_dz(float *dz, float *dscores, const float *dprobs, const float *probs,
                             const float *en, int n, int e, int r) {
  for (long long t = gidx(); t < n; t += gstride()) {
    const float *pt = probs + t * e, *gt = dprobs + t * e;
    float *st = dscores + t * e;
    float dot = 0;
    for (int p = 0; p < e; p++) dot += pt[p] * gt[p];
    for (int p = 0; p < e; p++) st[p] = pt[p] * (gt[p] - dot);
    for (int j = 0; j < r; j++) {
      float s = 0;
      for (int p = 0; p < e; p++) s += st[p] * en[p * r + j];
      dz[t * r + j] += s;
    }
  }
}

// den[p,j] = Σ_t dscores[t,p]·z[t,j] (written, not added), in double. One
// block of 256 threads per (p, j): e·r blocks.
PCX_KERNEL pcx_router_bwd_den(float *den, const float *dscores, const float *z, int n, int e, int r) {
  PCX_SHARED double part[32];
  int p = ctaid_x() / r, j = ctaid_x() % r;
  double s = 0;
  for (int t = tid_x(); t < n; t += ntid_x()) s += (double)(dscores[(long long)t * e + p] * z[(long long)t * r + j]);
  s = warp_sum_d(s);
  if (lane_id() == 0) part[warp_id()] = s;
  sync_threads();
  if (tid_x() == 0) {
    double tot = 0;
    for (int w = 0; w < (ntid_x() + 31) / 32; w++) tot += part[w];
    den[ctaid_x()] = (float)tot;
  }
}
