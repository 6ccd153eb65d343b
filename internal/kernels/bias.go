package kernels

import "math"

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
	forRange(len(x)/f, 1<<14/f+1, func(lo, hi int) { biasAdd(dst[lo*f:hi*f], x[lo*f:hi*f], bias) })
}

// biasAddGeneric is BiasAddTo's loop in pure Go over the rows of x (len(x) a
// multiple of len(bias) > 0, len(dst) == len(x)): the fallback of biasAdd
// and the reference of its assembly.
func biasAddGeneric(dst, x, bias []float32) {
	f := len(bias)
	for r := 0; r+f <= len(x); r += f {
		d, s := dst[r:r+f], x[r:r+f]
		for j, b := range bias {
			d[j] = s[j] + b
		}
	}
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
		biasGrad(buf, dy[lo*f:hi*f])
	})
}

// biasGradGeneric adds to buf the sums of the columns of dy (read as rows of
// len(buf) > 0), row after row, in pure Go: the fallback of biasGrad and the
// reference of its assembly.
func biasGradGeneric(buf, dy []float32) {
	f := len(buf)
	for r := 0; r+f <= len(dy); r += f {
		for j, v := range dy[r : r+f] {
			buf[j] += v
		}
	}
}

// BiasReluTo writes max(x + bias, 0) into dst (bias broadcast along the last
// axis, as BiasAddTo): the bias and the ReLU in one pass over the data.
// dst may alias x. It panics with ErrShape on the conditions of BiasAddTo.
func BiasReluTo(dst, x, bias []float32) {
	f := len(bias)
	if len(dst) != len(x) || f == 0 || len(x)%f != 0 {
		panic(ErrShape)
	}
	forRange(len(x)/f, 1<<14/f+1, func(lo, hi int) { biasRelu(dst[lo*f:hi*f], x[lo*f:hi*f], bias) })
}

// biasReluGeneric is BiasReluTo's loop in pure Go over the rows of x (len(x)
// a multiple of len(bias) > 0, len(dst) == len(x)): the fallback of biasRelu
// and the reference of its assembly.
func biasReluGeneric(dst, x, bias []float32) {
	f := len(bias)
	for r := 0; r+f <= len(x); r += f {
		d, s := dst[r:r+f], x[r:r+f]
		d = d[:len(bias)]
		s = s[:len(bias)]
		for j, b := range bias {
			v := math.Float32bits(s[j] + b)
			d[j] = math.Float32frombits(v &^ uint32(int32(v)>>31))
		}
	}
}

// BiasReluBackwardTo writes into dx the gradient with respect to x of
// y = max(x + bias, 0), given y and dy: dy where y > 0, else 0; and into db
// the gradient with respect to the bias, the sum of dx over all but the
// last axis. dx may alias dy; db must not alias either.
func BiasReluBackwardTo(dx, db, y, dy []float32) {
	f := len(db)
	if len(dx) != len(y) || len(dy) != len(y) || f == 0 || len(y)%f != 0 {
		panic(ErrShape)
	}
	reduceParts(db, len(y)/f, 1<<14/f+1, func(buf []float32, lo, hi int) {
		clear(buf)
		biasReluBackward(dx[lo*f:hi*f], buf[:f], y[lo*f:hi*f], dy[lo*f:hi*f])
	})
}

// biasReluBackwardGeneric is BiasReluBackwardTo's loop in pure Go over the
// rows of y (len(y) a multiple of len(buf) > 0, len(dx) == len(dy) ==
// len(y)): it writes dx and adds the column sums of dx to buf, row after
// row. It is the fallback of biasReluBackward and the reference of its
// assembly.
func biasReluBackwardGeneric(dx, buf, y, dy []float32) {
	f := len(buf)
	for r := 0; r+f <= len(y); r += f {
		yr, gr, dr := y[r:r+f], dy[r:r+f], dx[r:r+f]
		yr, gr, dr = yr[:len(buf)], gr[:len(buf)], dr[:len(buf)]
		for j, v := range yr {
			b := math.Float32bits(v)
			m := uint32(int32(^b&(b-1))>>31) | uint32(int32(b)>>31) // all ones iff y <= 0
			g := math.Float32frombits(math.Float32bits(gr[j]) &^ m)
			dr[j] = g
			buf[j] += g
		}
	}
}
