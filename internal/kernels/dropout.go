package kernels

import "math/rand/v2"

// DropoutMaskTo fills mask with an inverted-dropout mask: each element is
// independently 1/(1-rate) with probability 1-rate (kept) and 0 otherwise
// (dropped), drawing one rng.Float64 per element in index order, so the same
// rng state gives the same mask. It panics if rate is not in [0, 1).
func DropoutMaskTo(mask []float32, rate float64, rng *rand.Rand) {
	if !(rate >= 0 && rate < 1) {
		panic("kernels: dropout rate not in [0, 1)")
	}
	scale := float32(1 / (1 - rate))
	for i := range mask {
		if rng.Float64() >= rate {
			mask[i] = scale
		} else {
			mask[i] = 0
		}
	}
}

// DropoutApplyTo writes x*mask (elementwise) into dst: the forward pass
// with x the input, or the backward pass with x the output gradient. dst may
// alias x or mask. It panics with ErrShape unless the three lengths are equal.
func DropoutApplyTo(dst, x, mask []float32) {
	if len(x) != len(dst) || len(mask) != len(dst) {
		panic(ErrShape)
	}
	for i := range dst {
		dst[i] = x[i] * mask[i]
	}
}
