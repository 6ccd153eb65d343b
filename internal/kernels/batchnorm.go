package kernels

import "math"

// Batch normalization over every axis but the last (channels-last): x is
// read as an (M, C) row-major matrix, M = len(x)/C, and every function below
// reduces or broadcasts over the M rows, channel by channel. C is taken from
// the length of the per-channel slices. Sums are accumulated in float64.
//
// All of them panic with ErrShape when the per-channel slices differ in
// length, when C is 0, or when len(x) is not a positive multiple of C. The
// destination of an elementwise kernel may alias its same-length inputs:
// every reduction is done before the first element of dst is written.

func bnRows(n, c int) int {
	if c == 0 || n == 0 || n%c != 0 {
		panic(ErrShape)
	}
	return n / c
}

func bnSameLen(c int, s ...[]float32) {
	for _, v := range s {
		if len(v) != c {
			panic(ErrShape)
		}
	}
}

// BatchMomentsTo writes the per-channel mean of x into mean and its biased
// (divide by M) variance into variance, using two passes for accuracy.
func BatchMomentsTo(mean, variance, x []float32) {
	c := len(mean)
	bnSameLen(c, variance)
	m := bnRows(len(x), c)
	sum := make([]float64, c)
	for r := 0; r < m; r++ {
		row := x[r*c : r*c+c]
		for j, v := range row {
			sum[j] += float64(v)
		}
	}
	for j := range sum {
		sum[j] /= float64(m)
		mean[j] = float32(sum[j])
	}
	sq := make([]float64, c)
	for r := 0; r < m; r++ {
		row := x[r*c : r*c+c]
		for j, v := range row {
			d := float64(v) - sum[j]
			sq[j] += d * d
		}
	}
	for j := range sq {
		variance[j] = float32(sq[j] / float64(m))
	}
}

// InvStdTo writes 1/sqrt(variance+eps) into dst; dst may alias variance.
func InvStdTo(dst, variance []float32, eps float64) {
	bnSameLen(len(dst), variance)
	for j, v := range variance {
		dst[j] = float32(1 / math.Sqrt(float64(v)+eps))
	}
}

// BatchNormTo writes (x-mean)*(gamma*invStd) + beta into dst (per
// channel), the rows shared among the workers.
func BatchNormTo(dst, x, mean, invStd, gamma, beta []float32) {
	c := len(mean)
	bnSameLen(c, invStd, gamma, beta)
	m := bnRows(len(x), c)
	if len(dst) != len(x) {
		panic(ErrShape)
	}
	sp := getPartial(c)
	defer partials.Put(sp)
	scale := (*sp)[:c]
	BatchNormScaleTo(scale, gamma, invStd)
	forRange(m, max(1, (1<<13)/max(c, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o := r * c
			norm(dst[o:o+c], x[o:o+c], mean, scale, beta)
		}
	})
}

// BatchNormScaleTo writes gamma*invStd, per channel, into dst: the Scale of
// the Epilogue that normalizes as BatchNormTo does.
func BatchNormScaleTo(dst, gamma, invStd []float32) {
	bnSameLen(len(dst), gamma, invStd)
	for j := range dst {
		dst[j] = gamma[j] * invStd[j]
	}
}

// ChannelSumTo writes the per-channel sum of x (over the M rows) into dst.
func ChannelSumTo(dst, x []float32) {
	c := len(dst)
	m := bnRows(len(x), c)
	sum := make([]float64, c)
	for r := 0; r < m; r++ {
		for j, v := range x[r*c : r*c+c] {
			sum[j] += float64(v)
		}
	}
	for j, s := range sum {
		dst[j] = float32(s)
	}
}

// BatchNormGammaGradTo writes sum over rows of dy*(x-mean)*invStd, the
// gradient with respect to gamma, into dst.
func BatchNormGammaGradTo(dst, x, dy, mean, invStd []float32) {
	c := len(dst)
	bnSameLen(c, mean, invStd)
	m := bnRows(len(x), c)
	if len(dy) != len(x) {
		panic(ErrShape)
	}
	sum := make([]float64, c)
	for r := 0; r < m; r++ {
		o := r * c
		for j := 0; j < c; j++ {
			sum[j] += float64(dy[o+j]) * float64(x[o+j]-mean[j])
		}
	}
	for j, s := range sum {
		dst[j] = float32(s * float64(invStd[j]))
	}
}

// BatchNormInputGradTo writes the gradient with respect to x of batch
// normalization with batch statistics (training mode) into dst:
//
//	dx = gamma*invStd * (dy - dBeta/M - xhat*dGamma/M),  xhat = (x-mean)*invStd
//
// where dGamma and dBeta are the parameter gradients (BatchNormGammaGradTo,
// ChannelSumTo) and M the number of rows. dst may alias x or dy.
func BatchNormInputGradTo(dst, x, dy, mean, invStd, gamma, dGamma, dBeta []float32) {
	c := len(mean)
	bnSameLen(c, invStd, gamma, dGamma, dBeta)
	m := bnRows(len(x), c)
	if len(dy) != len(x) || len(dst) != len(x) {
		panic(ErrShape)
	}
	invM := 1 / float32(m)
	for r := 0; r < m; r++ {
		o := r * c
		for j := 0; j < c; j++ {
			xhat := (x[o+j] - mean[j]) * invStd[j]
			dst[o+j] = gamma[j] * invStd[j] * (dy[o+j] - dBeta[j]*invM - xhat*dGamma[j]*invM)
		}
	}
}

// ScaleChannelsTo writes dy*gamma*invStd into dst: the gradient with respect
// to x of batch normalization with fixed statistics (inference mode). dst may
// alias dy.
func ScaleChannelsTo(dst, dy, gamma, invStd []float32) {
	c := len(gamma)
	bnSameLen(c, invStd)
	m := bnRows(len(dy), c)
	if len(dst) != len(dy) {
		panic(ErrShape)
	}
	for r := 0; r < m; r++ {
		o := r * c
		for j := 0; j < c; j++ {
			dst[o+j] = dy[o+j] * gamma[j] * invStd[j]
		}
	}
}

// MovingAverageUpdate sets moving = moving*momentum + batch*(1-momentum) in
// place (Keras's convention: momentum weights the old value). It panics with
// ErrShape if the lengths differ.
func MovingAverageUpdate(moving, batch []float32, momentum float64) {
	bnSameLen(len(moving), batch)
	for j, b := range batch {
		moving[j] = float32(float64(moving[j])*momentum + float64(b)*(1-momentum))
	}
}
