package kernels

import "math"

// SoftmaxTo writes the softmax of each row of x, a (len(x)/k, k) matrix,
// into dst (which may alias x). Rows are shifted by their maximum first, so
// large logits do not overflow. Panics with ErrShape on mismatched lengths.
func SoftmaxTo(dst, x []float32, k int) {
	if k < 1 || len(x)%k != 0 || len(dst) != len(x) {
		panic(ErrShape)
	}
	for r := 0; r < len(x); r += k {
		row, out := x[r:r+k], dst[r:r+k]
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var s float64
		for i, v := range row {
			e := float32(math.Exp(float64(v - m)))
			out[i] = e
			s += float64(e)
		}
		inv := float32(1 / s)
		for i := range out {
			out[i] *= inv
		}
	}
}

// SoftmaxBackwardTo writes into dx the gradient of the softmax given its
// output y and the output gradient dy, row by row:
// dx = y ⊙ (dy - Σ dy⊙y). dx may alias dy.
func SoftmaxBackwardTo(dx, y, dy []float32, k int) {
	if k < 1 || len(y)%k != 0 || len(dy) != len(y) || len(dx) != len(y) {
		panic(ErrShape)
	}
	for r := 0; r < len(y); r += k {
		var dot float64
		for i := r; i < r+k; i++ {
			dot += float64(dy[i]) * float64(y[i])
		}
		d := float32(dot)
		for i := r; i < r+k; i++ {
			dx[i] = y[i] * (dy[i] - d)
		}
	}
}

// SoftmaxCrossEntropy returns the mean over rows of -Σ t·log softmax(z) for
// logits z and targets t, (n, k) matrices, and writes softmax(z) into probs.
// The log-softmax is computed as z - max - log Σ exp(z - max), stable for
// any logits.
func SoftmaxCrossEntropy(probs, z, t []float32, k int) float64 {
	if k < 1 || len(z)%k != 0 || len(t) != len(z) || len(probs) != len(z) {
		panic(ErrShape)
	}
	var loss float64
	for r := 0; r < len(z); r += k {
		row := z[r : r+k]
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v - m))
		}
		lse := float64(m) + math.Log(s)
		for i, v := range row {
			lp := float64(v) - lse
			probs[r+i] = float32(math.Exp(lp))
			if t[r+i] != 0 {
				loss -= float64(t[r+i]) * lp
			}
		}
	}
	return loss / float64(len(z)/k)
}

// SoftmaxCrossEntropyBackwardTo writes the gradient of the mean
// cross-entropy with respect to the logits, scale·(probs·Σt - t)/n, into
// dz, Σt the sum of the sample's target row (1 for a distribution; its
// weight for a weighted sample).
func SoftmaxCrossEntropyBackwardTo(dz, probs, t []float32, k int, scale float32) {
	if k < 1 || len(probs)%k != 0 || len(t) != len(probs) || len(dz) != len(probs) {
		panic(ErrShape)
	}
	f := scale / float32(len(probs)/k)
	for r := 0; r < len(dz); r += k {
		// The gradient of -Σ t·log softmax(z) is softmax(z)·Σt - t: Σt is
		// 1 for a distribution (exactly, for one-hot rows) and the
		// sample's weight for a weighted one.
		var s float32
		for _, v := range t[r : r+k] {
			s += v
		}
		if s == 1 {
			for i := r; i < r+k; i++ {
				dz[i] = f * (probs[i] - t[i])
			}
			continue
		}
		for i := r; i < r+k; i++ {
			dz[i] = f * (probs[i]*s - t[i])
		}
	}
}
