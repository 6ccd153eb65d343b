package npy_test

import (
	"bytes"
	"fmt"

	"github.com/capa-ml/capa/formats/npy"
)

func Example() {
	var b bytes.Buffer
	npy.Write(&b, []int{2, 2}, []float32{1, 2, 3, 4})
	shape, data, err := npy.Read(&b, int64(b.Len()))
	fmt.Println(shape, data, err)
	// Output: [2 2] [1 2 3 4] <nil>
}
