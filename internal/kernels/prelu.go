package kernels

import "math/rand/v2"

// This file holds PReLU (a leaky ReLU with learned slopes) and the noise
// layers' kernels.

// PReLUTo writes y = x for x > 0 and alpha*x otherwise. The slopes are
// indexed per element of one sample: element i of every sample (len(idx)
// values) uses alpha[idx[i]], which is how slopes shared along some axes
// broadcast. It panics with ErrShape unless len(x) is a multiple of
// len(idx) and len(y) == len(x).
func PReLUTo(y, x, alpha []float32, idx []int32) {
	checkSamples(len(y), len(x), len(idx))
	s := len(idx)
	for o := 0; o < len(x); o += s {
		xs, ys := x[o:o+s], y[o:o+s]
		for i, v := range xs {
			if v > 0 {
				ys[i] = v
			} else {
				ys[i] = alpha[idx[i]] * v
			}
		}
	}
}

// PReLUGradTo writes dx = dy for x > 0 and alpha*dy otherwise.
func PReLUGradTo(dx, dy, x, alpha []float32, idx []int32) {
	checkSamples(len(dx), len(x), len(idx))
	s := len(idx)
	for o := 0; o < len(x); o += s {
		xs, dys, dxs := x[o:o+s], dy[o:o+s], dx[o:o+s]
		for i, v := range xs {
			if v > 0 {
				dxs[i] = dys[i]
			} else {
				dxs[i] = alpha[idx[i]] * dys[i]
			}
		}
	}
}

// PReLUAlphaGradTo writes the slopes' gradient: da[k] is the sum of dy*x
// over the elements with x <= 0 that use slope k.
func PReLUAlphaGradTo(da, dy, x []float32, idx []int32) {
	checkSamples(len(dy), len(x), len(idx))
	acc := make([]float64, len(da))
	s := len(idx)
	for o := 0; o < len(x); o += s {
		xs, dys := x[o:o+s], dy[o:o+s]
		for i, v := range xs {
			if v <= 0 {
				acc[idx[i]] += float64(dys[i]) * float64(v)
			}
		}
	}
	for k, v := range acc {
		da[k] = float32(v)
	}
}

// checkSamples panics with ErrShape unless n == m and m is a multiple of a
// positive sample size s.
func checkSamples(n, m, s int) {
	if s <= 0 || n != m || m%s != 0 {
		panic(ErrShape)
	}
}

// GaussianNoiseTo writes y = x + stddev*z with z drawn from rng's standard
// normal, one draw per element in order. y may alias x.
func GaussianNoiseTo(y, x []float32, stddev float64, rng *rand.Rand) {
	if len(y) != len(x) {
		panic(ErrShape)
	}
	for i, v := range x {
		y[i] = v + float32(stddev*rng.NormFloat64())
	}
}

// SpatialDropoutMaskTo fills mask, (n, hw, c) row-major, with whole
// channels kept or dropped: one draw from rng per (sample, channel), in
// that order, keeps it (value 1/(1-rate)) with probability 1-rate, as
// Keras's SpatialDropout2D (noise shape (N, 1, 1, C)).
func SpatialDropoutMaskTo(mask []float32, n, hw, c int, rate float64, rng *rand.Rand) {
	if len(mask) != n*hw*c || !(rate >= 0 && rate < 1) {
		panic(ErrShape)
	}
	keep := make([]float32, c)
	scale := float32(1 / (1 - rate))
	for s := range n {
		for j := range keep {
			keep[j] = 0
			if rng.Float64() >= rate {
				keep[j] = scale
			}
		}
		for p := range hw {
			copy(mask[(s*hw+p)*c:(s*hw+p+1)*c], keep)
		}
	}
}
