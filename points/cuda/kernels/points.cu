// Point-MAE's grouping on the GPU: batched farthest-point sampling with
// pointnet2 semantics (package fps), exact kNN ordered by (distance, index)
// (package knn) and the gathers between them. Distances round at every step
// (dist3), so the GPU chooses the same points as the CPU.
#include "pcx.cuh"

// pcx_fps picks m centres in each of b clouds of n points (xyz b×n×3) into
// out (b×m), using dist (b×n) as the running distances: start at point 0,
// running distance 1e10, points with |p|² ≤ 1e-3 never chosen, the largest
// running distance next with ties to the lowest index, and index 0 when no
// candidate is left. One block per cloud, any multiple of 32 threads up to
// 1024.
PCX_KERNEL pcx_fps(int *out, float *dist, const float *xyz, int b, int n, int m) {
  PCX_SHARED float wv[32];
  PCX_SHARED int wi[32];
  PCX_SHARED int cur_s;
  (void)b; // the grid has b blocks
  int cloud = ctaid_x(), tid = tid_x(), nt = ntid_x();
  const float *p = xyz + (long long)cloud * n * 3;
  float *d = dist + (long long)cloud * n;
  int *o = out + (long long)cloud * m;
  for (int i = tid; i < n; i += nt) {
    float x = p[3 * i], y = p[3 * i + 1], z = p[3 * i + 2];
    float mag = add_rn(add_rn(mul_rn(x, x), mul_rn(y, y)), mul_rn(z, z));
    d[i] = ((double)mag <= 1e-3) ? -1.0f : 1e10f;
  }
  if (tid == 0) o[0] = 0;
  int cur = 0;
  sync_threads();
  for (int j = 1; j < m; j++) {
    float cx = p[3 * cur], cy = p[3 * cur + 1], cz = p[3 * cur + 2];
    float best = -1.0f;
    int bi = 0;
    for (int i = tid; i < n; i += nt) {
      float dd = dist3(p[3 * i], p[3 * i + 1], p[3 * i + 2], cx, cy, cz);
      float t = d[i];
      if (dd < t) {
        t = dd;
        d[i] = t;
      }
      if (t > best) {
        best = t;
        bi = i;
      }
    }
    warp_argmax(best, bi);
    if (lane_id() == 0) {
      wv[warp_id()] = best;
      wi[warp_id()] = bi;
    }
    sync_threads();
    if (tid == 0) {
      float bv = wv[0];
      int bx = wi[0];
      for (int w = 1; w < nt / 32; w++)
        if (wv[w] > bv || (wv[w] == bv && wi[w] < bx)) {
          bv = wv[w];
          bx = wi[w];
        }
      if (bv < 0) bx = 0; // every remaining point is skipped
      cur_s = bx;
      o[j] = bx;
    }
    sync_threads();
    cur = cur_s; // thread 0 writes cur_s again only after the next barrier
  }
}

// pcx_knn writes, for each of the q queries of each of b clouds (queries
// b×q×3, points b×n×3), the indices of its k nearest points into out
// (b×q×k), nearest first, ties to the lower index. One warp per query:
// round r finds the smallest key (distance bits, index) above round r-1's,
// so results are exact for any n. Launch with blocks of 32·w threads.
PCX_KERNEL pcx_knn(int *out, const float *pts, const float *qs, int b, int n, int q, int k) {
  long long gq = (long long)ctaid_x() * (ntid_x() >> 5) + warp_id();
  int lane = lane_id();
  if (gq >= (long long)b * q) return; // the whole warp leaves
  long long cloud = gq / q;
  const float *p = pts + cloud * n * 3;
  float qx = qs[gq * 3], qy = qs[gq * 3 + 1], qz = qs[gq * 3 + 2];
  u64 last = 0;
  for (int r = 0; r < k; r++) {
    u64 best = ~0ull;
    for (int i = lane; i < n; i += 32) {
      float dd = dist3(p[3 * i], p[3 * i + 1], p[3 * i + 2], qx, qy, qz);
      u64 key = ((u64)f2u(dd) << 32) | (unsigned)i;
      if ((r == 0 || key > last) && key < best) best = key;
    }
    best = warp_min_u64(best);
    if (lane == 0) out[gq * k + r] = best == ~0ull ? -1 : (int)(unsigned)best;
    last = best;
  }
}

// out (b×m×3) = the points of xyz (b×n×3) named by idx (b×m); an index
// outside [0, n) gives NaN coordinates.
PCX_KERNEL pcx_gather3(float *out, const float *xyz, const int *idx, int b, int n, int m) {
  long long total = (long long)b * m;
  for (long long t = gidx(); t < total; t += gstride()) {
    long long cloud = t / m;
    int i = idx[t];
    bool ok = i >= 0 && i < n;
    for (int a = 0; a < 3; a++) out[t * 3 + a] = ok ? xyz[(cloud * n + i) * 3 + a] : qnan();
  }
}

// nbhd (b×g×k×3) = xyz[idx] - centre: each centre's neighbours relative to
// it (Point-MAE's neighbourhoods); idx is b×g×k, centres b×g×3.
PCX_KERNEL pcx_group_rel(float *nbhd, const float *xyz, const float *centres, const int *idx, int b, int n,
                         int g, int k) {
  long long total = (long long)b * g * k;
  for (long long t = gidx(); t < total; t += gstride()) {
    long long grp = t / k, cloud = grp / g;
    int i = idx[t];
    bool ok = i >= 0 && i < n;
    for (int a = 0; a < 3; a++)
      nbhd[t * 3 + a] = ok ? xyz[(cloud * n + i) * 3 + a] - centres[grp * 3 + a] : qnan();
  }
}
