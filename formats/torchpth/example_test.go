package torchpth_test

import (
	"fmt"
	"log"

	"github.com/capa-ml/capa/formats/torchpth"
)

// The test file has the keys of torchvision's VGG16 with reduced widths,
// in the legacy format of vgg16-397923af.pth; its name carries the first
// 8 hex digits of its SHA-256, which OpenFile checks.
func Example() {
	sd, err := torchpth.OpenFile("testdata/vgg16mini-cd586040.pth")
	if err != nil {
		log.Fatal(err)
	}
	defer sd.Close()
	keys := sd.Keys()
	fmt.Println(sd.Format(), len(keys), "tensors")
	for _, k := range []string{keys[0], keys[1], "classifier.6.weight"} {
		info, _ := sd.Lookup(k)
		fmt.Println(k, info.DType, info.Shape, "stride", info.Stride)
	}

	// Tensor reads the data and returns it in C order whatever the strides.
	w, err := sd.Tensor("classifier.6.weight")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(w.Float32()), w.Float32()[:3])
	// Output:
	// legacy-rebuild_tensor 32 tensors
	// features.0.weight float32 [4 3 3 3] stride [27 9 3 1]
	// features.0.bias float32 [4] stride [1]
	// classifier.6.weight float32 [10 32] stride [1 10]
	// 320 [1.53125 -0.65625 1.140625]
}
