package graph

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

// Accuracy is the accuracy metric that goes with a loss, as Keras's
// compile chooses it for metrics=["accuracy"].
type Accuracy struct {
	// Kind is "sparse_categorical_accuracy" (argmax against a class
	// index), "categorical_accuracy" (argmax against a one-hot label) or
	// "binary_accuracy" (each output against its label, both thresholded).
	Kind string
	// Threshold separates the two classes of binary_accuracy: 0.5 for
	// probabilities, 0 for logits.
	Threshold float32
}

// AccuracyReporter is an optional Loss ability: the accuracy that goes
// with it. Without it, a loss gets binary accuracy for one output per
// sample, sparse categorical accuracy when labels are class indices, and
// categorical accuracy otherwise.
type AccuracyReporter interface {
	Accuracy() Accuracy
}

// accuracyOf returns loss's accuracy for k outputs per sample.
func accuracyOf(loss Loss, k int) Accuracy {
	if r, ok := loss.(AccuracyReporter); ok {
		return r.Accuracy()
	}
	switch {
	case k == 1:
		return Accuracy{Kind: "binary_accuracy", Threshold: 0.5}
	case loss.LabelSize(k) == 1:
		return Accuracy{Kind: "sparse_categorical_accuracy"}
	default:
		return Accuracy{Kind: "categorical_accuracy"}
	}
}

// correct counts the samples (or, for binary accuracy, the outputs) of a
// batch whose prediction matches the label; out has k values per sample.
func (a Accuracy) correct(out, labels []float32, k int) (hits, total int) {
	n := len(out) / k
	for i := 0; i < n; i++ {
		o := out[i*k : (i+1)*k]
		switch a.Kind {
		case "sparse_categorical_accuracy":
			if argmax(o) == int(labels[i]) {
				hits++
			}
			total++
		case "binary_accuracy":
			for j := range o {
				if (o[j] > a.Threshold) == (labels[i*k+j] > 0.5) {
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
