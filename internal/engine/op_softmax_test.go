package engine

import (
	"math"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestSoftmaxGradient(t *testing.T) {
	if _, err := gradcheck.Check(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Softmax(in[0]) },
		[]*tensor.Dense{gradcheck.Random(4, -3, 3, 4, 5)}, gradcheck.Options{Eps: 1e-3}); err != nil {
		t.Error(err)
	}
}

func oneHot(labels []int, k int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(len(labels), k), tensor.Of(tensor.Float32))
	for i, l := range labels {
		t.Data().([]float32)[i*k+l] = 1
	}
	return t
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	z := gradcheck.Random(6, -4, 4, 3, 5)
	tgt := oneHot([]int{1, 4, 0}, 5)
	g := G.NewGraph()
	loss := G.Must(SoftmaxCrossEntropy(G.NodeFromAny(g, z, G.WithName("z")), G.NodeFromAny(g, tgt, G.WithName("t"))))
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	zd := z.Data().([]float32)
	var want float64
	for i, l := range []int{1, 4, 0} {
		var s float64
		for j := 0; j < 5; j++ {
			s += math.Exp(float64(zd[i*5+j]))
		}
		want -= float64(zd[i*5+l]) - math.Log(s)
	}
	want /= 3
	if got := float64(loss.Value().Data().(float32)); math.Abs(got-want) > 1e-5 {
		t.Errorf("loss %v, want %v", got, want)
	}
	_, err := gradcheck.Check(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return SoftmaxCrossEntropy(in[0], in[1])
	}, []*tensor.Dense{z, tgt}, gradcheck.Options{Wrt: []int{0}, Eps: 1e-3})
	if err != nil {
		t.Error(err)
	}
}

func TestSoftmaxCrossEntropyLargeLogits(t *testing.T) {
	z := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1000, -1000, 0, -500, 500, 499}))
	g := G.NewGraph()
	loss := G.Must(SoftmaxCrossEntropy(G.NodeFromAny(g, z, G.WithName("z")), G.NodeFromAny(g, oneHot([]int{0, 2}, 3), G.WithName("t"))))
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	// Row 1: loss 0; row 2: -(499 - logsumexp(-500, 500, 499)).
	want := (0 + -(499 - (500 + math.Log(1+math.Exp(-1))))) / 2
	if got := float64(loss.Value().Data().(float32)); math.IsNaN(got) || math.Abs(got-want) > 1e-4 {
		t.Errorf("loss %v, want %v", got, want)
	}
}
