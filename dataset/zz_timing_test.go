package dataset

import (
	"testing"
	"time"
)

func TestZZTiming(t *testing.T) {
	for range 3 {
		s := time.Now()
		if _, _, err := LoadFashionMNIST(FashionMNISTSystemDir); err != nil {
			t.Fatal(err)
		}
		t.Log(time.Since(s))
	}
}
