package hdf5_test

import (
	"bytes"
	"fmt"

	"github.com/capa-ml/capa/formats/hdf5"
)

func Example() {
	// A Keras 1 weight file laid out like the published VGG16 weights
	// (with reduced channel counts).
	f, closer, err := hdf5.OpenFile("testdata/vgg16_notop_keras1_earliest.h5")
	if err != nil {
		panic(err)
	}
	defer closer.Close()

	a, err := f.Root().Attr("layer_names")
	if err != nil {
		panic(err)
	}
	layers, err := a.Strings()
	if err != nil {
		panic(err)
	}
	fmt.Println(len(layers), layers[:3])

	g, err := f.Group(layers[1])
	if err != nil {
		panic(err)
	}
	a, err = g.Attr("weight_names")
	if err != nil {
		panic(err)
	}
	weights, err := a.Strings()
	if err != nil {
		panic(err)
	}
	fmt.Println(weights)

	d, err := g.Dataset(weights[0])
	if err != nil {
		panic(err)
	}
	w, err := d.ReadFloat32()
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Path(), d.DType(), d.Shape(), len(w))

	_, err = f.Dataset("/block1_conv1/block1_conv1/kernel:0")
	fmt.Println(err)
	// Output:
	// 19 [input_1 block1_conv1 block1_conv2]
	// [block1_conv1_W_1:0 block1_conv1_b_1:0]
	// /block1_conv1/block1_conv1_W_1:0 float32 [3 3 3 4] 108
	// hdf5: /block1_conv1/block1_conv1: no member "block1_conv1" in group /block1_conv1: hdf5: not found
}

// A Keras 3 weights file (model.weights.h5): each layer's variables in
// layers/<name>/vars, read back with Open.
func ExampleWriter() {
	w := hdf5.NewWriter()
	if err := w.Group("vars"); err != nil {
		panic(err)
	}
	if err := w.Float32("layers/dense/vars/0", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		panic(err)
	}
	if err := w.Float32("layers/dense/vars/1", []int{3}, []float32{0.5, 0, -0.5}); err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		panic(err)
	}

	f, err := hdf5.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		panic(err)
	}
	d, err := f.Dataset("layers/dense/vars/0")
	if err != nil {
		panic(err)
	}
	v, err := d.ReadFloat32()
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Root().Names(), d.Shape(), v)
	// Output:
	// [layers vars] [2 3] [1 2 3 4 5 6]
}
