package dataset_test

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"

	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/formats/idx"
)

func Example() {
	// Write a tiny MNIST-style pair: four 2×3 images and their labels.
	dir, err := os.MkdirTemp("", "capa-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	imgs, labs := filepath.Join(dir, "images.idx"), filepath.Join(dir, "labels.idx")
	for _, f := range []struct {
		path string
		dims []int
		data []byte
	}{
		{imgs, []int{4, 2, 3}, []byte{
			0, 255, 0, 255, 0, 255,
			51, 51, 51, 51, 51, 51,
			102, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 255}},
		{labs, []int{4}, []byte{9, 0, 5, 7}},
	} {
		w, err := os.Create(f.path)
		if err != nil {
			panic(err)
		}
		if err := idx.Write(w, f.dims, f.data); err != nil {
			panic(err)
		}
		w.Close()
	}

	set, err := dataset.LoadIDX(imgs, labs)
	if err != nil {
		panic(err)
	}
	fmt.Printf("N=%d H=%d W=%d C=%d\n", set.N, set.H, set.W, set.C)
	fmt.Println(set.Image(0), dataset.ClassNames[set.Labels[0]])

	train, val := set.Split(1) // last example held out
	fmt.Println(train.N, val.N, val.Images, dataset.ClassNames[val.Labels[0]])
	// Output:
	// N=4 H=2 W=3 C=1
	// [0 1 0 1 0 1] Ankle boot
	// 3 1 [0 0 0 0 0 1] Sneaker
}

func ExampleFromImage() {
	// A black 6×2 bar on a white 12×12 picture becomes a light bar on black,
	// trimmed to the bar, scaled to 4×1 to fit 4×4 with its 3:1 aspect
	// (1.33 rows rounded to 1) and centred vertically.
	img := image.NewGray(image.Rect(0, 0, 12, 12))
	for y := range 12 {
		for x := range 12 {
			c := color.Gray{255}
			if x >= 3 && x < 9 && y >= 5 && y < 7 {
				c = color.Gray{0}
			}
			img.SetGray(x, y, c)
		}
	}
	v := dataset.FromImage(img, 4, 4)
	for y := range 4 {
		fmt.Println(v[y*4 : y*4+4])
	}
	// Output:
	// [0 0 0 0]
	// [1 1 1 1]
	// [0 0 0 0]
	// [0 0 0 0]
}
