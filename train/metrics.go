package train

import (
	"fmt"
	"strings"
)

// argmax returns the index of the largest value.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// correct counts the samples of a batch whose prediction matches the label:
// argmax for several classes, a 0.5 threshold for one sigmoid output (with
// binary labels per output).
func correct(out, labels []float32, k int, sparse bool) (hits, total int) {
	n := len(out) / k
	for i := 0; i < n; i++ {
		o := out[i*k : (i+1)*k]
		switch {
		case sparse:
			if argmax(o) == int(labels[i]) {
				hits++
			}
			total++
		case k == 1 || !sumsToOne(o):
			for j := range o {
				if (o[j] >= 0.5) == (labels[i*k+j] >= 0.5) {
					hits++
				}
				total++
			}
		default:
			if argmax(o) == argmax(labels[i*k:(i+1)*k]) {
				hits++
			}
			total++
		}
	}
	return
}

func sumsToOne(o []float32) bool {
	var s float32
	for _, v := range o {
		s += v
	}
	return s > 0.999 && s < 1.001
}

// Report is the result of Evaluate.
type Report struct {
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
	N        int     `json:"samples"`
	// Confusion[i][j] counts samples of true class i predicted as j
	// (classification models only).
	Confusion [][]int `json:"confusion_matrix,omitempty"`
	// Precision and Recall per class.
	Precision []float64 `json:"precision,omitempty"`
	Recall    []float64 `json:"recall,omitempty"`
}

func newConfusion(k int) [][]int {
	c := make([][]int, k)
	for i := range c {
		c[i] = make([]int, k)
	}
	return c
}

func (r *Report) finishConfusion() {
	k := len(r.Confusion)
	r.Precision = make([]float64, k)
	r.Recall = make([]float64, k)
	for c := 0; c < k; c++ {
		var tp, predicted, actual int
		for j := 0; j < k; j++ {
			predicted += r.Confusion[j][c]
			actual += r.Confusion[c][j]
		}
		tp = r.Confusion[c][c]
		if predicted > 0 {
			r.Precision[c] = float64(tp) / float64(predicted)
		}
		if actual > 0 {
			r.Recall[c] = float64(tp) / float64(actual)
		}
	}
}

// Table formats the confusion matrix and per-class precision and recall,
// with the given class names (or indices when names is nil).
func (r *Report) Table(names []string) string {
	var b strings.Builder
	k := len(r.Confusion)
	name := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprint(i)
	}
	fmt.Fprintf(&b, "%-14s", "true\\pred")
	for j := 0; j < k; j++ {
		fmt.Fprintf(&b, "%6d", j)
	}
	fmt.Fprintf(&b, "  %9s %7s\n", "precision", "recall")
	for i := 0; i < k; i++ {
		fmt.Fprintf(&b, "%-14s", fmt.Sprintf("%d %s", i, name(i)))
		for j := 0; j < k; j++ {
			fmt.Fprintf(&b, "%6d", r.Confusion[i][j])
		}
		fmt.Fprintf(&b, "  %9.4f %7.4f\n", r.Precision[i], r.Recall[i])
	}
	return b.String()
}
