package kernels

import "math"

// This file holds layer normalization over the last axis (Keras's
// LayerNormalization with axis -1): each row of c values is normalized by
// its own mean and (biased) variance, then scaled by gamma and shifted by
// beta, one value per column.

// LayerNormTo writes y = gamma*(x-mean)/sqrt(var+eps) + beta for every row
// of c values of x; gamma and beta may be nil (1 and 0). Statistics are
// accumulated in float64. It panics with ErrShape unless len(x) is a
// multiple of c and len(y) == len(x).
func LayerNormTo(y, x, gamma, beta []float32, c int, eps float64) {
	checkRows(len(y), len(x), c, gamma, beta)
	for r := 0; r < len(x)/c; r++ {
		xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
		mean, inv := rowMoments(xr, eps)
		for j, v := range xr {
			h := float32((float64(v) - mean) * inv)
			if gamma != nil {
				h *= gamma[j]
			}
			if beta != nil {
				h += beta[j]
			}
			yr[j] = h
		}
	}
}

// LayerNormGradTo writes into dx the gradient of LayerNormTo's input:
// with g = dy*gamma and h the normalized row,
// dx = inv*(g - mean(g) - h*mean(g*h)).
func LayerNormGradTo(dx, dy, x, gamma []float32, c int, eps float64) {
	checkRows(len(dx), len(x), c, gamma, nil)
	if len(dy) != len(x) {
		panic(ErrShape)
	}
	for r := 0; r < len(x)/c; r++ {
		xr, dyr, dxr := x[r*c:(r+1)*c], dy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
		mean, inv := rowMoments(xr, eps)
		var sg, sgh float64
		for j, v := range xr {
			g := float64(dyr[j])
			if gamma != nil {
				g *= float64(gamma[j])
			}
			sg += g
			sgh += g * (float64(v) - mean) * inv
		}
		sg /= float64(c)
		sgh /= float64(c)
		for j, v := range xr {
			g := float64(dyr[j])
			if gamma != nil {
				g *= float64(gamma[j])
			}
			h := (float64(v) - mean) * inv
			dxr[j] = float32(inv * (g - sg - h*sgh))
		}
	}
}

// LayerNormParamGradTo writes the gradients of gamma (sum over rows of
// dy*h) and of beta (sum of dy) into dgamma and dbeta; either may be nil.
func LayerNormParamGradTo(dgamma, dbeta, dy, x []float32, c int, eps float64) {
	checkRows(len(dy), len(x), c, dgamma, dbeta)
	sg := make([]float64, c)
	sb := make([]float64, c)
	for r := 0; r < len(x)/c; r++ {
		xr, dyr := x[r*c:(r+1)*c], dy[r*c:(r+1)*c]
		mean, inv := rowMoments(xr, eps)
		for j, v := range xr {
			sg[j] += float64(dyr[j]) * (float64(v) - mean) * inv
			sb[j] += float64(dyr[j])
		}
	}
	for j := range c {
		if dgamma != nil {
			dgamma[j] = float32(sg[j])
		}
		if dbeta != nil {
			dbeta[j] = float32(sb[j])
		}
	}
}

// rowMoments returns a row's mean and 1/sqrt(variance+eps).
func rowMoments(xr []float32, eps float64) (mean, inv float64) {
	for _, v := range xr {
		mean += float64(v)
	}
	mean /= float64(len(xr))
	var vr float64
	for _, v := range xr {
		d := float64(v) - mean
		vr += d * d
	}
	vr /= float64(len(xr))
	return mean, 1 / math.Sqrt(vr+eps)
}

// checkRows panics with ErrShape unless n == m, m is a positive multiple
// of c and the per-column slices a and b are nil or c long.
func checkRows(n, m, c int, a, b []float32) {
	if c <= 0 || n != m || m%c != 0 || (a != nil && len(a) != c) || (b != nil && len(b) != c) {
		panic(ErrShape)
	}
}
