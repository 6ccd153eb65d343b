package dataset

import "testing"

func BenchmarkZZLoad(b *testing.B) {
	for b.Loop() {
		if _, _, err := LoadFashionMNIST(FashionMNISTSystemDir); err != nil {
			b.Fatal(err)
		}
	}
}
