package kernels

// ReluTo writes max(x, 0) into dst (which may alias x).
func ReluTo(dst, x []float32) {
	if len(dst) != len(x) {
		panic(ErrShape)
	}
	for i, v := range x {
		dst[i] = max(v, 0)
	}
}

// ReluBackwardTo writes dy where y > 0 and 0 elsewhere into dx (the ReLU
// gradient from its output y; 0 at 0, as Keras and PyTorch). dx may alias dy.
func ReluBackwardTo(dx, y, dy []float32) {
	if len(dx) != len(y) || len(dy) != len(y) {
		panic(ErrShape)
	}
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}
