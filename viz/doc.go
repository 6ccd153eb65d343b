// Package viz draws the pictures a person would rather look at than read:
// learning curves (Chart), grids of images with their labels (ImageGrid,
// Grid), confusion matrices (ConfusionMatrix), convolution kernels
// (Filters) and activations (FeatureMaps), each as an *image.RGBA to write
// with WritePNG, to Encode, to caption with Titled or to place with
// SideBySide.
//
// It takes plain data (float32 slices in Keras's channels-last layouts,
// counts, strings) and imports nothing of Capa, so it serves the command
// line and notebooks alike. Text is drawn in basicfont's 7x13 face, which
// covers ASCII only: other characters appear as a replacement box.
//
// Bad input (wrong lengths, shapes, counts) is returned as an error naming
// the function and the value received; nothing here panics on data. A
// picture larger than MaxPixels is refused.
package viz
