package main

import (
	"fmt"

	"github.com/capa-ml/capa/augment"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/viz"
)

// cmdAugment writes a preview of the default Fashion-MNIST augmentation: a
// grid of training images, each followed by augmented copies.
func cmdAugment(args []string) error {
	fs := cli.NewFlagSet("capa augment", augmentUsage)
	out := fs.String("preview", "", "write the preview grid to this PNG file (required)")
	data := fs.String("data", "", "directory with the Fashion-MNIST files")
	n := fs.Int("n", 8, "number of original images (rows)")
	copies := fs.Int("copies", 8, "augmented copies of each image")
	seed := fs.Uint64("seed", 1, "seed of the augmentation")
	scale := fs.Int("scale", 3, "upscaling factor of every pixel")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return cli.Usagef("--preview FILE.png is required")
	}
	if *n < 1 || *copies < 1 || *scale < 1 {
		return cli.Usagef("--n, --copies and --scale must be positive, got %d, %d, %d", *n, *copies, *scale)
	}
	trainSet, _, err := dataset.LoadFashionMNIST(*data)
	if err != nil {
		return err
	}
	idx := previewSamples(trainSet, *n)
	x := make([]float32, 0, len(idx)*trainSet.ImageLen())
	for _, i := range idx {
		x = append(x, trainSet.Image(i)...)
	}
	p := augment.FashionMNIST(*seed)
	img, err := augment.Preview(p, x, len(idx), []int{trainSet.H, trainSet.W, trainSet.C}, *copies, *scale)
	if err != nil {
		return err
	}
	if err := viz.WritePNG(*out, img); err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	fmt.Printf("%s\nwrote %s: %d originals (left) with %d augmented copies each\n", p, *out, len(idx), *copies)
	return nil
}

// previewSamples picks n training images: the first of each class in turn
// (so that a preview shows every kind of garment), then the next ones.
func previewSamples(s *dataset.Set, n int) []int {
	n = min(n, s.N)
	var out []int
	taken := map[int]bool{}
	seen := map[uint8]bool{}
	for i := 0; i < s.N && len(out) < n && len(seen) < len(dataset.ClassNames); i++ {
		if !seen[s.Labels[i]] {
			seen[s.Labels[i]] = true
			taken[i] = true
			out = append(out, i)
		}
	}
	for i := 0; i < s.N && len(out) < n; i++ {
		if !taken[i] {
			out = append(out, i)
		}
	}
	return out
}
