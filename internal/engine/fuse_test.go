package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

// TestExecutorFusesConvPool: a max pooling of a convolution's output that
// nothing else reads runs fused, with the unfused values bit for bit; when
// the convolution's output is also requested, or a gradient reads it,
// nothing is fused.
func TestExecutorFusesConvPool(t *testing.T) {
	for _, relu := range []bool{false, true} {
		g := G.NewGraph()
		x := G.NodeFromAny(g, gradcheck.Random(1, -1, 1, 6, 14, 14, 3), G.WithName("x"))
		k := G.NodeFromAny(g, gradcheck.Random(2, -1, 1, 5, 5, 3, 8), G.WithName("k"))
		b := G.NodeFromAny(g, gradcheck.Random(3, -0.5, 0.5, 8), G.WithName("b"))
		var conv *G.Node
		if relu {
			conv = G.Must(Conv2DBiasRelu(x, k, b, [2]int{1, 1}, [4]int{}))
		} else {
			conv = G.Must(Convolution2D(x, k, [2]int{1, 1}, [4]int{}))
		}
		pool := G.Must(MaxPool2D(conv, [2]int{2, 2}, [2]int{2, 2}, [4]int{}))
		run := func(outs ...*G.Node) (*Executor, []float32) {
			ex, err := NewExecutor(g, outs...)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if err := ex.Run(); err != nil {
					t.Fatal(err)
				}
			}
			v, err := ex.Value(pool)
			if err != nil {
				t.Fatal(err)
			}
			return ex, append([]float32(nil), v.Data().([]float32)...)
		}
		ex, got := run(pool)
		if path, _, _ := ConvRun(conv); path != "stream+maxpool" {
			t.Fatalf("relu %v: convolution ran %q, want it fused", relu, path)
		}
		if _, err := ex.Value(conv); err == nil || !strings.Contains(err.Error(), "not kept") {
			t.Errorf("relu %v: Value of the fused convolution: %v", relu, err)
		}
		_, want := run(pool, conv)
		if path, _, _ := ConvRun(conv); path != "stream" {
			t.Fatalf("relu %v: with its output requested the convolution ran %q", relu, path)
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("relu %v: [%d] fused %v, unfused %v", relu, i, got[i], want[i])
			}
		}
		loss := G.Must(G.Sum(pool))
		gs, err := G.Grad(loss, k)
		if err != nil {
			t.Fatal(err)
		}
		run(loss, gs[0])
		if path, _, _ := ConvRun(conv); path != "im2col" {
			t.Errorf("relu %v: training ran %q", relu, path)
		}
	}
}
