package kernels

// BiasAddTo writes x + bias into dst, with bias broadcast along the last
// axis: dst[i] = x[i] + bias[i%len(bias)] (for NHWC activations, one bias
// per channel). dst may alias x (in-place update).
//
// BiasAddTo panics with ErrShape if len(dst) != len(x), or if len(x) is not a
// multiple of len(bias) (an empty bias is allowed only with an empty x).
func BiasAddTo(dst, x, bias []float32) {
	f := len(bias)
	if len(dst) != len(x) || (f == 0 && len(x) != 0) || (f != 0 && len(x)%f != 0) {
		panic(ErrShape)
	}
	if f == 0 {
		return
	}
	forRange(len(x)/f, 1<<14/f+1, func(lo, hi int) {
		for r := lo * f; r < hi*f; r += f {
			d, s := dst[r:r+f], x[r:r+f]
			for j, b := range bias {
				d[j] = s[j] + b
			}
		}
	})
}

// BiasGradTo writes into db the gradient of the loss with respect to the
// bias of BiasAddTo, given dy, the gradient with respect to its output: db[j]
// is the sum of dy over all but the last axis (dy read as rows of len(db)).
// db must not alias dy.
//
// BiasGradTo panics with ErrShape if len(dy) is not a multiple of len(db) (an
// empty db is allowed only with an empty dy).
func BiasGradTo(db, dy []float32) {
	f := len(db)
	if (f == 0 && len(dy) != 0) || (f != 0 && len(dy)%f != 0) {
		panic(ErrShape)
	}
	if f == 0 {
		return
	}
	reduceParts(db, len(dy)/f, 1<<14/f+1, func(buf []float32, lo, hi int) {
		clear(buf)
		for r := lo * f; r < hi*f; r += f {
			for j, v := range dy[r : r+f] {
				buf[j] += v
			}
		}
	})
}
