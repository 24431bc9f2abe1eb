// Cross-entropy with label smoothing, fused with its softmax: the loss of
// row r is -Σ_i t_i·log softmax(logits_r)_i with t = (1-s)·onehot(label) +
// s/c, as PyTorch's label_smoothing; the mean over rows is pcx_reduce_sum
// with scale 1/n.
#include "pcx.cuh"

// row_loss[r] and the probabilities prob (kept for backward). One warp per
// row. A label outside [0, c) makes that row's loss NaN.
PCX_KERNEL pcx_xent_fwd(float *row_loss, float *prob, const float *logits, const int *labels, int n, int c,
                        float smoothing) {
  int row = ctaid_x() * (ntid_x() >> 5) + warp_id(), lane = lane_id();
  if (row >= n) return;
  long long o = (long long)row * c;
  int l = labels[row];
  float m = -pinf();
  for (int i = lane; i < c; i += 32) {
    float v = logits[o + i];
    if (v > m || is_nan(v)) m = v;
  }
  m = warp_max_f(m);
  double s = 0;
  for (int i = lane; i < c; i += 32) {
    float e = pcx_expf(logits[o + i] - m);
    prob[o + i] = e;
    s += e;
  }
  s = warp_sum_d(s);
  double lse = (double)m + pcx_log_d(s);
  double loss = 0;
  for (int i = lane; i < c; i += 32) {
    prob[o + i] = (float)((double)prob[o + i] / s);
    double t = (double)smoothing / c;
    if (i == l) t += 1 - (double)smoothing;
    if (t != 0) loss -= t * ((double)logits[o + i] - lse);
  }
  loss = warp_sum_d(loss);
  if (lane == 0) row_loss[row] = (l < 0 || l >= c) ? qnan() : (float)loss;
}

// dlogits += (dloss[0]/n)·(prob - t), dloss a device scalar (the loss's
// gradient), so that no host round trip is needed.
PCX_KERNEL pcx_xent_bwd(float *dlogits, const float *prob, const int *labels, const float *dloss, int n,
                        int c, float smoothing) {
  long long total = (long long)n * c;
  float scale = dloss[0] / (float)n;
  for (long long t = gidx(); t < total; t += gstride()) {
    long long r = t / c;
    int i = (int)(t % c);
    float tg = smoothing / (float)c;
    if (i == labels[r]) tg += 1 - smoothing;
    dlogits[t] += scale * (prob[t] - tg);
  }
}
