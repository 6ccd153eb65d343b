package kernels

import "math"

// ReluTo writes max(x, 0) into dst (which may alias x); -0 and negative
// values become +0 (NaN with the sign bit set too).
func ReluTo(dst, x []float32) {
	if len(dst) != len(x) {
		panic(ErrShape)
	}
	forRange(len(x), 1<<14, func(lo, hi int) { relu(dst[lo:hi], x[lo:hi]) })
}

// reluGeneric is ReluTo's loop in pure Go (len(d) == len(x)): the fallback
// of relu and the reference of its assembly.
func reluGeneric(d, x []float32) {
	d = d[:len(x)]
	for i, v := range x {
		// Branch-free: clear negative values (sign bit set) to +0.
		b := math.Float32bits(v)
		d[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// ReluBackwardTo writes dy where y > 0 and 0 elsewhere into dx (the ReLU
// gradient from its output y; 0 at 0, as Keras and PyTorch). dx may alias dy.
func ReluBackwardTo(dx, y, dy []float32) {
	if len(dx) != len(y) || len(dy) != len(y) {
		panic(ErrShape)
	}
	forRange(len(y), 1<<14, func(lo, hi int) { reluBackward(dx[lo:hi], y[lo:hi], dy[lo:hi]) })
}

// reluBackwardGeneric is ReluBackwardTo's loop in pure Go (equal lengths):
// the fallback of reluBackward and the reference of its assembly.
func reluBackwardGeneric(d, y, g []float32) {
	d, g = d[:len(y)], g[:len(y)]
	for i, v := range y {
		// Branch-free (the signs of a ReLU's input are random, and a
		// branch would be mispredicted half the time): the mask is
		// all ones where y is +0 or negative (zero where y > 0).
		b := math.Float32bits(v)
		m := uint32(int32(^b&(b-1)) >> 31) // all ones iff b == 0
		m |= uint32(int32(b) >> 31)        // or y negative
		d[i] = math.Float32frombits(math.Float32bits(g[i]) &^ m)
	}
}

// ClampTo writes x limited to [lo, hi] into dst (which may alias x):
// ReLU6 is ClampTo(dst, x, 0, 6). NaN and -0 pass unchanged.
func ClampTo(dst, x []float32, lo, hi float32) {
	if len(dst) != len(x) {
		panic(ErrShape)
	}
	forRange(len(x), 1<<14, func(a, b int) { clamp(dst[a:b], x[a:b], lo, hi) })
}

// clampGeneric is ClampTo's loop in pure Go: the fallback of clamp and the
// reference of its assembly.
func clampGeneric(d, x []float32, lo, hi float32) {
	d = d[:len(x)]
	for i, v := range x {
		if lo > v {
			v = lo
		}
		if hi < v {
			v = hi
		}
		d[i] = v
	}
}

// ClampBackwardTo writes dy where lo < y < hi and 0 elsewhere into dx, the
// gradient of ClampTo from its output y (0 at the limits, as Keras's
// ReLU6). dx may alias dy.
func ClampBackwardTo(dx, y, dy []float32, lo, hi float32) {
	if len(dx) != len(y) || len(dy) != len(y) {
		panic(ErrShape)
	}
	forRange(len(y), 1<<14, func(a, b int) {
		for i, v := range y[a:b] {
			if lo < v && v < hi {
				dx[a+i] = dy[a+i]
			} else {
				dx[a+i] = 0
			}
		}
	})
}

// mulAddGeneric adds a*b to d element by element (a product, then a sum,
// not fused): the fallback of mulAdd and the reference of its assembly.
func mulAddGeneric(d, a, b []float32) {
	d, b = d[:len(a)], b[:len(a)]
	for i, v := range a {
		d[i] += v * b[i]
	}
}

// normGeneric writes (x-m)*s + t into d element by element: the fallback
// of norm and the reference of its assembly.
func normGeneric(d, x, m, s, t []float32) {
	d, m, s, t = d[:len(x)], m[:len(x)], s[:len(x)], t[:len(x)]
	for i, v := range x {
		d[i] = (v-m[i])*s[i] + t[i]
	}
}

// epilogueRowGeneric is epilogueRow in pure Go: normGeneric's arithmetic,
// then the sum, then reluGeneric's, each rounded to float32.
func epilogueRowGeneric(d, m, s, t, r []float32, relu bool) {
	for i, v := range d {
		if m != nil {
			v = (v-m[i])*s[i] + t[i]
		}
		if r != nil {
			v += r[i]
		}
		if relu {
			b := math.Float32bits(v)
			v = math.Float32frombits(b &^ uint32(int32(b)>>31))
		}
		d[i] = v
	}
}

// SumTo writes the element-wise sum of xs (left to right, all of dst's
// length) into dst, which may alias xs[0]; the work is shared among the
// workers.
func SumTo(dst []float32, xs [][]float32) {
	for _, x := range xs {
		if len(x) != len(dst) {
			panic(ErrShape)
		}
	}
	forRange(len(dst), 1<<14, func(lo, hi int) {
		d := dst[lo:hi]
		copy(d, xs[0][lo:hi])
		for _, x := range xs[1:] {
			x = x[lo:hi]
			for i := range d {
				d[i] += x[i]
			}
		}
	})
}

// ConcatTo joins srcs along an axis: each source is outer blocks of
// chunks[i] contiguous values, and dst is outer blocks of sum(chunks), the
// sources' blocks one after the other (a concatenation along the axis
// whose block sizes, times the inner dimensions, are chunks).
func ConcatTo(dst []float32, srcs [][]float32, outer int, chunks []int) {
	o := 0
	for b := 0; b < outer; b++ {
		for i, s := range srcs {
			c := chunks[i]
			copy(dst[o:o+c], s[b*c:(b+1)*c])
			o += c
		}
	}
}

// SliceTo is ConcatTo's inverse for one source: it copies, from each of
// outer blocks of total values in src, the chunk values at offset into dst.
func SliceTo(dst, src []float32, outer, total, offset, chunk int) {
	for b := 0; b < outer; b++ {
		copy(dst[b*chunk:(b+1)*chunk], src[b*total+offset:b*total+offset+chunk])
	}
}
