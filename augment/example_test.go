package augment_test

import (
	"fmt"

	"github.com/capa-ml/capa/augment"
)

// A fixed shift of half the width to the right, with each fill mode, on
// the row 1 2 3 4.
func ExamplePipeline_fillModes() {
	for _, fill := range []augment.FillMode{augment.FillConstant, augment.FillNearest, augment.FillReflect, augment.FillWrap} {
		p, err := augment.New(1, augment.Translation{WidthFactor: augment.Range{0.5, 0.5}})
		if err != nil {
			panic(err)
		}
		p.Fill, p.FillValue = fill, 9
		x := []float32{1, 2, 3, 4}
		if err := p.Apply(x, 1, []int{1, 4, 1}); err != nil { // one 1x4x1 image
			panic(err)
		}
		fmt.Println(fill, x)
	}
	// Output:
	// constant [9 9 1 2]
	// nearest [1 1 1 2]
	// reflect [2 1 1 2]
	// wrap [3 4 1 2]
}

// The same seed gives the same augmentation.
func ExampleFashionMNIST() {
	a, b := augment.FashionMNIST(42), augment.FashionMNIST(42)
	x, y := make([]float32, 2*28*28), make([]float32, 2*28*28)
	for i := range x {
		x[i] = float32(i%28) / 28
		y[i] = x[i]
	}
	a.Apply(x, 2, []int{28, 28, 1})
	b.Apply(y, 2, []int{28, 28, 1})
	same := true
	for i := range x {
		same = same && x[i] == y[i]
	}
	fmt.Println(same)
	// Output: true
}
