package kernels

// ReluTo writes max(x, 0) into dst (which may alias x).
func ReluTo(dst, x []float32) {
	if len(dst) != len(x) {
		panic(ErrShape)
	}
	forRange(len(x), 1<<14, func(lo, hi int) {
		d := dst[lo:hi]
		for i, v := range x[lo:hi] {
			d[i] = max(v, 0)
		}
	})
}

// ReluBackwardTo writes dy where y > 0 and 0 elsewhere into dx (the ReLU
// gradient from its output y; 0 at 0, as Keras and PyTorch). dx may alias dy.
func ReluBackwardTo(dx, y, dy []float32) {
	if len(dx) != len(y) || len(dy) != len(y) {
		panic(ErrShape)
	}
	forRange(len(y), 1<<14, func(lo, hi int) {
		d, g := dx[lo:hi], dy[lo:hi]
		for i, v := range y[lo:hi] {
			if v > 0 {
				d[i] = g[i]
			} else {
				d[i] = 0
			}
		}
	})
}
