package viz_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/capa-ml/capa/viz"
)

// Four 28x28 gray images (dark squares growing on white), labeled and
// enlarged three times, in two columns, written to a PNG file.
func ExampleImageGrid() {
	const n, h, w = 4, 28, 28
	x := make([]float32, n*h*w)
	for i := 0; i < n; i++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				v := float32(1)
				if y < 7*(i+1) && xx < 7*(i+1) {
					v = 0
				}
				x[(i*h+y)*w+xx] = v
			}
		}
	}
	labels := []string{"Bag (ok)", "Coat (was Shirt)", "Sneaker (ok)", "Sandal (ok)"}
	img, err := viz.ImageGrid(x, n, []int{h, w, 1}, labels, 2, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Bounds().Dx(), "x", img.Bounds().Dy(), "pixels")

	dir, _ := os.MkdirTemp("", "viz-example")
	defer os.RemoveAll(dir)
	if err := viz.WritePNG(filepath.Join(dir, "grid.png"), viz.Titled("four squares", img)); err != nil {
		fmt.Println(err)
	}

	_, err = viz.ImageGrid(x, n, []int{h, w, 3}, labels, 2, 3)
	fmt.Println(err)
	// Output:
	// 192 x 254 pixels
	// viz: ImageGrid: 3136 values for 4 images of shape [28 28 3]: want 9408
}
