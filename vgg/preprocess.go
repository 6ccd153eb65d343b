package vgg

// Preprocessing converts RGB images with values in [0, 1] (NHWC, as Capa's
// data sets hold them) into the input each source of weights was trained
// on. Both functions write into dst, which may alias src, and panic if the
// lengths differ or are not a multiple of 3.

// CaffeMean is the per-channel mean, in BGR order on the 0-255 scale,
// subtracted by Keras's "caffe" preprocessing.
var CaffeMean = [3]float32{103.939, 116.779, 123.68}

// TorchMean and TorchStd are torchvision's ImageNet normalization, RGB.
var (
	TorchMean = [3]float32{0.485, 0.456, 0.406}
	TorchStd  = [3]float32{0.229, 0.224, 0.225}
)

func checkRGB(dst, src []float32) {
	if len(dst) != len(src) || len(src)%3 != 0 {
		panic("vgg: preprocessing needs RGB pixels (a multiple of 3 values) and a destination of the same length")
	}
}

// PreprocessCaffe is Keras's preprocess_input for VGG ("caffe" mode): the
// values are scaled to 0-255, the channels reversed to BGR and the ImageNet
// mean subtracted. Use it with Keras's weight files.
func PreprocessCaffe(dst, src []float32) {
	checkRGB(dst, src)
	for i := 0; i < len(src); i += 3 {
		r, g, b := src[i]*255, src[i+1]*255, src[i+2]*255
		dst[i], dst[i+1], dst[i+2] = b-CaffeMean[0], g-CaffeMean[1], r-CaffeMean[2]
	}
}

// PreprocessTorch is torchvision's normalization: (x - mean) / std per RGB
// channel, on the 0-1 scale. Use it with torchvision's weight files.
func PreprocessTorch(dst, src []float32) {
	checkRGB(dst, src)
	for i := 0; i < len(src); i += 3 {
		for c := 0; c < 3; c++ {
			dst[i+c] = (src[i+c] - TorchMean[c]) / TorchStd[c]
		}
	}
}
