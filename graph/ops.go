package graph

import (
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// The ops a layer's Call builds its graph with. They are Capa's engine
// (package internal/engine), re-exported here for layers written outside
// this package (package augment's, a user's own) and for losses; the
// engine's documentation has the details of each (kernels, scratch
// buffers, Winograd). Every op computes in float32 and returns an error
// naming the shapes or values it refuses.

// Convolution2D returns the 2-D convolution (cross-correlation, as in
// Keras) of x, NHWC (N, H, W, C), with kernel (KH, KW, C, F): an NHWC node
// (N, OH, OW, F) with OH = (H+top+bottom-KH)/strides[0] + 1 and OW likewise.
// padding is (top, bottom, left, right); padded cells read 0. There is no
// bias (see BiasAdd). Gradients flow to x and to kernel. One node's ops
// share scratch buffers and must not run concurrently.
//
// It is named Convolution2D because Conv2D is the layer type.
func Convolution2D(x, kernel *G.Node, strides [2]int, padding [4]int) (*G.Node, error) {
	return engine.Convolution2D(x, kernel, strides, padding)
}

// MatMul returns the matrix product a·b of float32 matrices a (m, k) and b
// (k, n). Gradients flow to a and b.
func MatMul(a, b *G.Node) (*G.Node, error) { return engine.MatMul(a, b) }

// BiasAdd returns x + bias with the 1-D bias broadcast along the last axis
// of x (rank >= 2; len(bias) is its last dimension). Gradients flow to x
// and to bias.
func BiasAdd(x, bias *G.Node) (*G.Node, error) { return engine.BiasAdd(x, bias) }

// BiasRelu returns max(x + bias, 0), the bias broadcast as in BiasAdd:
// BiasAdd followed by Relu in one op.
func BiasRelu(x, bias *G.Node) (*G.Node, error) { return engine.BiasRelu(x, bias) }

// Relu returns max(x, 0) elementwise for a float32 tensor of any shape; its
// gradient is 0 at 0, as in Keras.
func Relu(x *G.Node) (*G.Node, error) { return engine.Relu(x) }

// Softmax returns the softmax of each row of x, a float32 (batch, classes)
// matrix.
func Softmax(x *G.Node) (*G.Node, error) { return engine.Softmax(x) }

// SoftmaxCrossEntropy returns the mean over the batch of the cross-entropy
// between softmax(logits) and target, both float32 (batch, classes): a
// scalar, stable for any logits. The target gets no gradient.
func SoftmaxCrossEntropy(logits, target *G.Node) (*G.Node, error) {
	return engine.SoftmaxCrossEntropy(logits, target)
}

// MaxPool2D returns the maximum of each pool[0]×pool[1] window of x, NHWC
// (N, H, W, C), per channel: (N, OH, OW, C), OH = (H+top+bottom-pool[0]) /
// strides[0] + 1 and OW likewise. padding is (top, bottom, left, right);
// padded cells never win (Keras semantics). The gradient goes to the
// winning cell of each window (the first one on ties).
func MaxPool2D(x *G.Node, pool, strides [2]int, padding [4]int) (*G.Node, error) {
	return engine.MaxPool2D(x, pool, strides, padding)
}

// AvgPool2D returns the mean of each window of x, shaped as for MaxPool2D;
// each mean divides by the number of real (non-padded) cells of its
// window.
func AvgPool2D(x *G.Node, pool, strides [2]int, padding [4]int) (*G.Node, error) {
	return engine.AvgPool2D(x, pool, strides, padding)
}

// GlobalAvgPool2D averages each channel of x, (N, H, W, C), over its H*W
// positions and returns an (N, C) node: Keras's GlobalAveragePooling2D.
func GlobalAvgPool2D(x *G.Node) (*G.Node, error) { return engine.GlobalAvgPool2D(x) }

// InvertedDropout applies inverted dropout (Keras's Dropout in training)
// to x: y = x*mask/(1-rate), a fresh keep-mask drawn from rng at every run
// (rate in [0, 1); rate 0 returns x itself). The op advances rng and is
// not safe for concurrent use; a layer in inference mode should not call
// it.
func InvertedDropout(x *G.Node, rate float64, rng *rand.Rand) (*G.Node, error) {
	return engine.InvertedDropout(x, rate, rng)
}

// BatchNorm normalizes x per channel (channels last, rank >= 2; gamma and
// beta of shape (C)) with Keras's BatchNormalization semantics: in
// training, by the batch's statistics, updating movingMean and movingVar
// in place at every run (moving = moving*momentum + batch*(1-momentum));
// otherwise by movingMean and movingVar. The moving statistics are kept,
// not copied. Gradients flow to x, gamma and beta.
func BatchNorm(x, gamma, beta *G.Node, movingMean, movingVar []float32, momentum, epsilon float64, training bool) (*G.Node, error) {
	return engine.BatchNorm(x, gamma, beta, movingMean, movingVar, momentum, epsilon, training)
}
