package vgg

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadWeights feeds arbitrary bytes to the weight loader of
// LoadWeights (format sniffing, the HDF5 and .pth readers, Keras's layer
// and weight names, torchvision's keys and layouts) with fuzzModel, a
// VGG-like model of 38 weights. The loader takes its shapes from the model
// and checks the file's against them, so a small model explores the same
// code as VGG16. No input may panic; every error says "vgg:" and the
// file. It is seeded with the files of seed_test.go (a few hundred bytes,
// Keras 1 and 2 names, zip and legacy .pth). Run it with
//
//	go test -run='^$' -fuzz='^FuzzReadWeights$' -fuzztime=5m -parallel=1 ./vgg
func FuzzReadWeights(f *testing.F) {
	for _, b := range weightSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fuzzModel(t)
		_, err := readWeights(m, bytes.NewReader(b), int64(len(b)), "fuzz.w")
		if err != nil && (!strings.HasPrefix(err.Error(), "vgg: ") || !strings.Contains(err.Error(), "fuzz.w")) {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
