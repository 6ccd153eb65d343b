package idx_test

import (
	"bytes"
	"compress/gzip"
	"fmt"

	"github.com/capa-ml/capa/formats/idx"
)

func Example() {
	// Two 2x3 images, gzip-compressed, as in the MNIST distribution.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := idx.Write(zw, []int{2, 2, 3}, []byte{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15}); err != nil {
		panic(err)
	}
	zw.Close()

	c, err := idx.ReadConfig(bytes.NewReader(buf.Bytes()))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.DType, c.Dims, c.NumElements())

	dims, data, err := idx.Read(&buf)
	if err != nil {
		panic(err)
	}
	fmt.Println(dims, data[6:])

	_, _, err = idx.Read(bytes.NewReader([]byte("PK\x03\x04")))
	fmt.Println(err)
	// Output:
	// uint8 [2 2 3] 12
	// [2 2 3] [10 11 12 13 14 15]
	// idx: magic 0x504B0304 at offset 0 does not start with 0x0000: idx: not an IDX file
}
