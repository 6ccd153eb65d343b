package vgg

import (
	_ "embed"
	"sort"
	"strings"
)

//go:embed imagenet_classes.txt
var classesText string

// ImageNetClasses are the 1000 ImageNet class names in the order of the
// published classifiers' outputs (from torchvision, BSD-3-Clause; written by
// scripts/imagenet_classes.py).
var ImageNetClasses = strings.Split(strings.TrimSuffix(classesText, "\n"), "\n")

// Prediction is one class of a decoded prediction.
type Prediction struct {
	Class int
	Name  string
	Prob  float32
}

// DecodePredictions returns the top classes of each row of probs, n rows of
// len(ImageNetClasses) (or any k) probabilities, most probable first.
func DecodePredictions(probs []float32, k, top int) [][]Prediction {
	var out [][]Prediction
	for r := 0; r+k <= len(probs); r += k {
		row := probs[r : r+k]
		idx := make([]int, k)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		var ps []Prediction
		for _, i := range idx[:min(top, k)] {
			name := ""
			if k == len(ImageNetClasses) {
				name = ImageNetClasses[i]
			}
			ps = append(ps, Prediction{Class: i, Name: name, Prob: row[i]})
		}
		out = append(out, ps)
	}
	return out
}
