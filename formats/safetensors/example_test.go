package safetensors_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/capa-ml/capa/formats/safetensors"
)

func Example() {
	tensors := map[string]safetensors.Tensor{
		"dense/kernel": safetensors.F32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		"dense/bias":   safetensors.F32([]int{3}, []float32{0.5, 0, -0.5}),
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, tensors, map[string]string{"format": "capa"}); err != nil {
		log.Fatal(err)
	}

	// Header only: names, dtypes, shapes and offsets, without the data.
	h, err := safetensors.ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range h.Tensors {
		fmt.Printf("%s %s %v bytes [%d, %d)\n", t.Name, t.DType, t.Shape, t.Begin, t.End)
	}

	f, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	kernel, err := f.Tensors["dense/kernel"].Float32()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Metadata["format"], kernel)
	// Output:
	// dense/bias F32 [3] bytes [0, 12)
	// dense/kernel F32 [2 3] bytes [12, 36)
	// capa [1 2 3 4 5 6]
}
