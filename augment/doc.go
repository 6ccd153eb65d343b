// Package augment makes random, believable changes to training images on
// the fly (data augmentation), seeded and reproducible: flips, rotation,
// translation, zoom, shear, brightness, contrast and random erasing, with
// Keras's semantics for factors (a rotation factor is a fraction of a full
// turn, zoom takes a ± range), fill modes (reflect, constant, nearest, wrap)
// and interpolation (bilinear, nearest).
//
// Layout: images are NHWC float32 (example, row, column, channel), any
// (H, W, C), pixel (n, y, x, c) at x[((n*H+y)*W+x)*C+c], as in package
// dataset; brightness and contrast assume values in [0, 1] unless told a
// ValueRange.
//
// There are two ways to use it. A Pipeline transforms batches in place; hand
// it to graph.FitOptions.Augment and Fit applies it to every training batch
// (never to validation data):
//
//	aug := augment.FashionMNIST(1) // the default pipeline for Fashion-MNIST
//	m.Fit(data, graph.FitOptions{Epochs: 10, Augment: aug})
//
// Or Keras's preprocessing layers (RandomFlip, RandomRotation,
// RandomTranslation, RandomZoom, RandomContrast, RandomBrightness) go into
// a model right after its Input: they act in training graphs only, and are
// saved and loaded with the model (import this package to load one).
//
// A Pipeline's geometric transforms compose into one affine map per image,
// sampled once, which keeps an epoch with the default pipeline within a few
// percent of one without. Preview draws a grid of originals and augmented
// copies, for a person to judge.
package augment
