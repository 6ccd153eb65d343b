package train

import (
	"fmt"

	"github.com/capa-ml/capa/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// probEpsilon clips probabilities away from 0 and 1 when a loss must work
// from probabilities rather than logits (Keras's backend epsilon).
const probEpsilon = 1e-7

// SparseCategoricalCrossentropy takes integer class labels (one value per
// sample) against a probability distribution over classes, or against
// logits with FromLogits.
type SparseCategoricalCrossentropy struct {
	// FromLogits says the model's output is logits, not probabilities
	// (Keras's from_logits). A softmax output is recognized either way.
	FromLogits bool `json:"from_logits"`
}

// CategoricalCrossentropy takes one-hot (or soft) labels.
type CategoricalCrossentropy struct {
	// FromLogits says the model's output is logits (Keras's from_logits).
	FromLogits bool `json:"from_logits"`
}

// BinaryCrossentropy takes labels in [0, 1] for sigmoid outputs.
type BinaryCrossentropy struct {
	// FromLogits says the model's output is logits (Keras's from_logits).
	FromLogits bool `json:"from_logits"`
}

// Accuracy is binary accuracy, thresholded at 0.5 for probabilities and
// at 0 for logits.
func (l BinaryCrossentropy) Accuracy() graph.Accuracy {
	if l.FromLogits {
		return graph.Accuracy{Kind: "binary_accuracy", Threshold: 0}
	}
	return graph.Accuracy{Kind: "binary_accuracy", Threshold: 0.5}
}

// Name returns "sparse_categorical_crossentropy".
func (SparseCategoricalCrossentropy) Name() string { return "sparse_categorical_crossentropy" }

// TargetLinear is true: the loss takes sample and class weights.
func (SparseCategoricalCrossentropy) TargetLinear() bool { return true }

// LabelSize is 1: the class index.
func (SparseCategoricalCrossentropy) LabelSize(int) int { return 1 }

// Targets one-hot encodes the class indices.
func (SparseCategoricalCrossentropy) Targets(dst, labels []float32, k int) error {
	if len(dst) != len(labels)*k {
		return fmt.Errorf("train: %d labels for a (%d, %d) target", len(labels), len(dst)/max(k, 1), k)
	}
	clear(dst)
	for i, l := range labels {
		c := int(l)
		if float32(c) != l || c < 0 || c >= k {
			return fmt.Errorf("train: label %v of sample %d of the batch is not a class index in [0, %d)", l, i, k)
		}
		dst[i*k+c] = 1
	}
	return nil
}

// Build returns the mean cross-entropy.
func (l SparseCategoricalCrossentropy) Build(out graph.Output, t *G.Node) (*G.Node, error) {
	return categorical(out, t, l.FromLogits)
}

// Name returns "categorical_crossentropy".
func (CategoricalCrossentropy) Name() string { return "categorical_crossentropy" }

// TargetLinear is true: the loss takes sample and class weights.
func (CategoricalCrossentropy) TargetLinear() bool { return true }

// LabelSize is the number of classes.
func (CategoricalCrossentropy) LabelSize(k int) int { return k }

// Targets copies the label distributions.
func (CategoricalCrossentropy) Targets(dst, labels []float32, k int) error {
	if len(dst) != len(labels) {
		return fmt.Errorf("train: %d label values for a target of %d", len(labels), len(dst))
	}
	copy(dst, labels)
	return nil
}

// Build returns the mean cross-entropy.
func (l CategoricalCrossentropy) Build(out graph.Output, t *G.Node) (*G.Node, error) {
	return categorical(out, t, l.FromLogits)
}

// categorical is -mean_b Σ_k t·log p, computed as log-softmax of the logits
// when the output is a softmax, else from clipped probabilities.
func categorical(o graph.Output, t *G.Node, fromLogits bool) (*G.Node, error) {
	out := o.Node
	if out.Shape().Dims() != 2 {
		return nil, fmt.Errorf("train: categorical cross-entropy needs (batch, classes) outputs, got %v", out.Shape())
	}
	if o.Activation == "softmax" {
		return graph.SoftmaxCrossEntropy(o.Logits, t)
	}
	if fromLogits {
		if o.Activation != "" {
			return nil, fmt.Errorf("train: from_logits, but the model's output is a %s, not logits", o.Activation)
		}
		return graph.SoftmaxCrossEntropy(out, t)
	}
	p, err := clip(out, probEpsilon, 1-probEpsilon)
	if err != nil {
		return nil, err
	}
	logp, err := G.Log(p)
	if err != nil {
		return nil, err
	}
	prod, err := G.HadamardProd(t, logp)
	if err != nil {
		return nil, err
	}
	s, err := G.Sum(prod)
	if err != nil {
		return nil, err
	}
	return G.Mul(s, G.NewConstant(float32(-1/float64(out.Shape()[0]))))
}

// Name returns "binary_crossentropy".
func (BinaryCrossentropy) Name() string { return "binary_crossentropy" }

// LabelSize is the number of outputs.
func (BinaryCrossentropy) LabelSize(k int) int { return k }

// Targets copies the labels.
func (BinaryCrossentropy) Targets(dst, labels []float32, k int) error {
	return CategoricalCrossentropy{}.Targets(dst, labels, k)
}

// Build returns the mean binary cross-entropy over every output. From the
// logits z of a sigmoid it is the stable max(z,0) - z·t + log(1+exp(-|z|)).
func (l BinaryCrossentropy) Build(o graph.Output, t *G.Node) (*G.Node, error) {
	out := o.Node
	n := float64(out.Shape().TotalSize())
	var terms *G.Node
	z := o.Logits
	if o.Activation != "sigmoid" {
		z = nil
	}
	if l.FromLogits {
		if o.Activation != "" {
			return nil, fmt.Errorf("train: from_logits, but the model's output is a %s, not logits", o.Activation)
		}
		z = out
	}
	if z != nil {
		relu, err := G.Rectify(z)
		if err != nil {
			return nil, err
		}
		zt, err := G.HadamardProd(z, t)
		if err != nil {
			return nil, err
		}
		abs, err := G.Abs(z)
		if err != nil {
			return nil, err
		}
		e, err := G.Exp(G.Must(G.Neg(abs)))
		if err != nil {
			return nil, err
		}
		l1p, err := G.Log1p(e)
		if err != nil {
			return nil, err
		}
		if terms, err = G.Sub(relu, zt); err != nil {
			return nil, err
		}
		if terms, err = G.Add(terms, l1p); err != nil {
			return nil, err
		}
	} else {
		p, err := clip(out, probEpsilon, 1-probEpsilon)
		if err != nil {
			return nil, err
		}
		// -(t·log p + (1-t)·log(1-p))
		one := G.NewConstant(float32(1))
		lp := G.Must(G.Log(p))
		l1mp := G.Must(G.Log(G.Must(G.Sub(one, p))))
		a := G.Must(G.HadamardProd(t, lp))
		b := G.Must(G.HadamardProd(G.Must(G.Sub(one, t)), l1mp))
		terms = G.Must(G.Neg(G.Must(G.Add(a, b))))
	}
	s, err := G.Sum(terms)
	if err != nil {
		return nil, err
	}
	return G.Mul(s, G.NewConstant(float32(1/n)))
}

// clip limits x to [lo, hi] with a zero gradient outside, like Keras's clip.
func clip(x *G.Node, lo, hi float64) (*G.Node, error) {
	full := func(v float64) *G.Node {
		t := tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32))
		d := t.Data().([]float32)
		for i := range d {
			d[i] = float32(v)
		}
		return G.NewConstant(t)
	}
	a, err := G.MaxBetween(x, full(lo))
	if err != nil {
		return nil, err
	}
	return G.MinBetween(a, full(hi))
}

// jsonLoss returns a factory that decodes the config into a copy of zero.
func jsonLoss[T graph.Loss](zero T) graph.LossFactory {
	return func(config []byte) (graph.Loss, error) {
		l := zero
		if len(config) > 0 {
			if err := graph.StrictJSON(config, &l); err != nil {
				return nil, err
			}
		}
		return l, nil
	}
}

func init() {
	graph.RegisterLoss("sparse_categorical_crossentropy", jsonLoss(SparseCategoricalCrossentropy{}))
	graph.RegisterLoss("categorical_crossentropy", jsonLoss(CategoricalCrossentropy{}))
	graph.RegisterLoss("binary_crossentropy", jsonLoss(BinaryCrossentropy{}))
}

// LossByName returns a registered loss by its Keras name, with its default
// config.
func LossByName(name string) (graph.Loss, error) { return graph.LossFromConfig(name, nil) }
