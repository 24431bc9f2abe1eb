// Chamfer-L2 between batched point sets q (batch×n×dim) and r (batch×m×dim),
// any dim: the nearest point of r for every point of q (run both ways),
// the loss mean(dist1) + mean(dist2), and its gradient through the nearest
// pairs. Squared distances are formed in double from the float32
// coordinates, Σ_d (q_d − r_d)² in coordinate order with every product and
// sum explicitly rounded (no FMA), exactly as nn/cpu's ChamferNearest, so
// the GPU and the CPU find the same distances and indices bit for bit.
#include "pcx.cuh"

#ifdef PCX_EMU
PCX_DEV double mul_rn_d(double a, double b) { return a * b; }
PCX_DEV double add_rn_d(double a, double b) { return a + b; }
#else
PCX_DEV double mul_rn_d(double a, double b) { double r; asm("mul.rn.f64 %0, %1, %2;" : "=d"(r) : "d"(a), "d"(b)); return r; }
PCX_DEV double add_rn_d(double a, double b) { double r; asm("add.rn.f64 %0, %1, %2;" : "=d"(r) : "d"(a), "d"(b)); return r; }
#endif

// The shared tile of r's points: PCX_CHAMFER_TILE floats, as many whole
// points as fit (r is read from global memory when one point does not).
#define PCX_CHAMFER_TILE 3072

PCX_DEV double sq_dist(const float *p, const float *q, int dim) {
  double s = 0;
  for (int d = 0; d < dim; d++) {
    double t = (double)p[d] - (double)q[d];
    s = add_rn_d(s, mul_rn_d(t, t));
  }
  return s;
}

// dist[row] (double) and idx[row]: for each of the batch·n points of q, the
// squared distance to the nearest point of r in the same batch element and
// its index; the lowest index on ties, the first NaN distance if any (a NaN
// counts as the smallest). One thread per point of q, ceil(n/ntid) blocks
// per batch element (block b·per + t covers points t·ntid… of element b);
// the block walks r in tiles staged in shared memory. m ≥ 1.
PCX_KERNEL pcx_chamfer_nn(double *dist, int *idx, const float *q, const float *r, int batch, int n, int m,
                          int dim) {
  PCX_SHARED float tile[PCX_CHAMFER_TILE];
  int per = (n + ntid_x() - 1) / ntid_x();
  int b = ctaid_x() / per;
  if (b >= batch) return; // the whole block
  int i = (ctaid_x() % per) * ntid_x() + tid_x();
  bool live = i < n;
  long long row = (long long)b * n + (live ? i : 0);
  const float *qp = q + row * dim;
  const float *rb = r + (long long)b * m * dim;
  int tp = PCX_CHAMFER_TILE / dim; // points per tile, 0 when one does not fit
  double best = (double)pinf();
  int arg = 0;
  if (tp == 0) {
    if (live) {
      for (int k = 0; k < m; k++) {
        double d = sq_dist(qp, rb + (long long)k * dim, dim);
        if (d < best || (d != d && best == best)) { best = d; arg = k; }
      }
    }
  } else {
    float x = 0, y = 0, z = 0;
    if (live && dim == 3) { x = qp[0]; y = qp[1]; z = qp[2]; }
    for (int k0 = 0; k0 < m; k0 += tp) {
      int cnt = m - k0 < tp ? m - k0 : tp;
      sync_threads(); // the previous tile is done with
      for (int j = tid_x(); j < cnt * dim; j += ntid_x()) tile[j] = rb[(long long)k0 * dim + j];
      sync_threads();
      if (!live) continue;
      if (dim == 3) {
        for (int k = 0; k < cnt; k++) {
          double dx = (double)x - (double)tile[3 * k], dy = (double)y - (double)tile[3 * k + 1],
                 dz = (double)z - (double)tile[3 * k + 2];
          double d = add_rn_d(add_rn_d(mul_rn_d(dx, dx), mul_rn_d(dy, dy)), mul_rn_d(dz, dz));
          if (d < best || (d != d && best == best)) { best = d; arg = k0 + k; }
        }
      } else {
        for (int k = 0; k < cnt; k++) {
          double d = sq_dist(qp, tile + k * dim, dim);
          if (d < best || (d != d && best == best)) { best = d; arg = k0 + k; }
        }
      }
    }
  }
  if (live) {
    dist[row] = best;
    idx[row] = arg;
  }
}

// PCX_DEV helper: the block's sum of x[0..n) in double, in a fixed order
// (valid in thread 0).
PCX_DEV double block_sum_d(const double *x, long long n, double *part) {
  double s = 0;
  for (long long i = tid_x(); i < n; i += ntid_x()) s += x[i];
  s = warp_sum_d(s);
  if (lane_id() == 0) part[warp_id()] = s;
  sync_threads();
  double t = 0;
  if (tid_x() == 0)
    for (int w = 0; w < (ntid_x() + 31) / 32; w++) t += part[w];
  sync_threads();
  return t;
}

// out[0] = Σ dist1/n1 + Σ dist2/n2, summed in double by one block (launch
// with one block of 256 threads): deterministic.
PCX_KERNEL pcx_chamfer_loss(float *out, const double *dist1, const double *dist2, int n1, int n2) {
  PCX_SHARED double part[32];
  double s1 = block_sum_d(dist1, n1, part);
  double s2 = block_sum_d(dist2, n2, part);
  if (tid_x() == 0) out[0] = (float)(s1 / n1 + s2 / n2);
}

// dq (batch×n×dim) += the gradient with respect to q of
// g·(inv_q·Σ_i |q_i − r_near_q(i)|² + inv_r·Σ_k |q_near_r(k) − r_k|²),
// g = dout[0]: for each coordinate, cq·2(q_i − r_near_q(i)) and then, k
// ascending, cr·2(q_i − r_k) for every k with near_r(k) = i, summed in
// double and rounded once (cq = g·inv_q, cr = g·inv_r), as nn/cpu's
// ChamferBackward. One thread per point of q (grid-stride); the gradient of
// r is the same kernel with the sets swapped.
PCX_KERNEL pcx_chamfer_bwd(float *dq, const float *dout, const float *q, const float *r, const int *near_q,
                           const int *near_r, int batch, int n, int m, int dim, double inv_q, double inv_r) {
  double g = (double)dout[0];
  double cq = mul_rn_d(g, inv_q), cr = mul_rn_d(g, inv_r);
  long long rows = (long long)batch * n;
  for (long long row = gidx(); row < rows; row += gstride()) {
    long long b = row / n;
    int i = (int)(row % n);
    const float *qp = q + row * dim;
    const float *own = r + (b * m + near_q[row]) * dim;
    const int *nr = near_r + b * m;
    const float *rb = r + b * m * dim;
    for (int d = 0; d < dim; d++) {
      double v = (double)qp[d];
      double acc = mul_rn_d(cq, 2 * (v - (double)own[d]));
      for (int k = 0; k < m; k++)
        if (nr[k] == i) acc = add_rn_d(acc, mul_rn_d(cr, 2 * (v - (double)rb[(long long)k * dim + d])));
      dq[row * dim + d] += (float)acc;
    }
  }
}
