package cuda

import "fmt"

// The Chamfer-L2 operations of kernels/chamfer.cu (nn.ChamferL2 on the
// device).

// chamferBlock is the block size of pcx_chamfer_nn (one thread per query
// point).
const chamferBlock = 128

// chamferShape checks the sets a (batch×n×dim) and b (batch×m×dim) and
// returns their element counts.
func chamferShape(op string, batch, n, m, dim int) (int, int, error) {
	na, err := shape(op, "batch×n×dim", batch, n, dim)
	if err != nil {
		return 0, 0, err
	}
	nb, err := shape(op, "batch×m×dim", batch, m, dim)
	if err != nil {
		return 0, 0, err
	}
	if batch == 0 || n == 0 || m == 0 || dim == 0 {
		return 0, 0, fmt.Errorf("cuda: %s of empty sets (batch %d, n %d, m %d, dim %d)", op, batch, n, m, dim)
	}
	return na, nb, nil
}

// chamferNN is the launch of pcx_chamfer_nn for the points of q (batch×nq)
// against those of r (batch×nr): ceil(nq/128) blocks per batch element;
// names are the four buffers' names in errors.
func chamferNN(op string, names [4]string, dist, idx, q, r *Buffer, batch, nq, nr, dim int) (launch, error) {
	per := (nq + chamferBlock - 1) / chamferBlock
	if batch*per > 1<<31-1 {
		return launch{}, fmt.Errorf("cuda: %s: %d blocks for %d sets of %d points", op, batch*per, batch, nq)
	}
	a := newArgs(op).buf64(names[0], dist, batch*nq).buf(names[1], idx, batch*nq).buf(names[2], q, batch*nq*dim).
		buf(names[3], r, batch*nr*dim).int("batch", batch).int("n", nq).int("m", nr).int("dim", dim)
	return launch{"pcx_chamfer_nn", dims{[3]uint32{uint32(batch * per), 1, 1}, [3]uint32{chamferBlock, 1, 1}}, a}, nil
}

// ChamferL2 writes to out[0] the Chamfer-L2 loss of the point sets a
// (batch×n×dim) and b (batch×m×dim): mean_i min_j |a_i − b_j|² +
// mean_j min_i |a_i − b_j|² within each batch element, the means over all
// batch·n and batch·m points. It keeps the nearest squared distances in
// dist1 (batch·n float64) and dist2 (batch·m float64) and their indices in
// idx1 (batch·n int32, into b) and idx2 (batch·m int32, into a), for
// ChamferL2Backward. Ties go to the lowest index; a NaN distance counts as
// the smallest. The distances are formed in double as nn/cpu's
// ChamferNearest does, the loss summed in double by one block
// (deterministic).
func (s *Stream) ChamferL2(out, dist1, dist2, idx1, idx2, a, b *Buffer, batch, n, m, dim int) error {
	const op = "ChamferL2"
	if _, _, err := chamferShape(op, batch, n, m, dim); err != nil {
		return err
	}
	l1, err := chamferNN(op, [4]string{"dist1", "idx1", "a", "b"}, dist1, idx1, a, b, batch, n, m, dim)
	if err != nil {
		return err
	}
	l2, err := chamferNN(op, [4]string{"dist2", "idx2", "b", "a"}, dist2, idx2, b, a, batch, m, n, dim)
	if err != nil {
		return err
	}
	sum := newArgs(op).buf("out", out, 1).buf64("dist1", dist1, batch*n).buf64("dist2", dist2, batch*m).
		int("n1", batch*n).int("n2", batch*m)
	return s.runAll(l1, l2, launch{"pcx_chamfer_loss", one, sum})
}

// ChamferL2Backward adds the gradient of ChamferL2's loss, for the loss
// gradient dout[0], to da (batch×n×dim) and db (batch×m×dim), either of
// which may be nil (not wanted), through the indices ChamferL2 kept:
// da_i += g/(batch·n)·2(a_i − b_idx1(i)) + Σ_{j: idx2(j)=i} g/(batch·m)·2(a_i − b_j),
// and likewise for db, summed in double (j ascending) and rounded once, as
// nn/cpu's ChamferBackward: no atomics, deterministic.
func (s *Stream) ChamferL2Backward(da, db, dout, a, b, idx1, idx2 *Buffer, batch, n, m, dim int) error {
	const op = "ChamferL2Backward"
	na, nb, err := chamferShape(op, batch, n, m, dim)
	if err != nil {
		return err
	}
	inv1, inv2 := 1/float64(batch*n), 1/float64(batch*m)
	var ls []launch
	if da != nil {
		k := newArgs(op).buf("da", da, na).buf("dout", dout, 1).buf("a", a, na).buf("b", b, nb).
			buf("idx1", idx1, batch*n).buf("idx2", idx2, batch*m).int("batch", batch).int("n", n).int("m", m).int("dim", dim).
			f64(inv1).f64(inv2)
		ls = append(ls, launch{"pcx_chamfer_bwd", blocks1(batch*n, 128), k})
	}
	if db != nil {
		k := newArgs(op).buf("db", db, nb).buf("dout", dout, 1).buf("b", b, nb).buf("a", a, na).
			buf("idx2", idx2, batch*m).buf("idx1", idx1, batch*n).int("batch", batch).int("n", m).int("m", n).int("dim", dim).
			f64(inv2).f64(inv1)
		ls = append(ls, launch{"pcx_chamfer_bwd", blocks1(batch*m, 128), k})
	}
	if len(ls) == 0 {
		return nil
	}
	return s.runAll(ls...)
}
