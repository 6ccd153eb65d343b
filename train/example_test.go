package train_test

import (
	"fmt"
	"io"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// Optimizers are found by Keras name, case-insensitively, with Keras's
// default learning rate unless one is given.
func ExampleNewOptimizer() {
	for _, name := range []string{"adam", "SGD", "rmsprop", "Adagrad"} {
		o, err := train.NewOptimizer(name, 0)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(o.Class(), o.LR())
	}
	_, err := train.NewOptimizer("lion", 0)
	fmt.Println(err)
	// Output:
	// Adam 0.001
	// SGD 0.01
	// RMSprop 0.001
	// Adagrad 0.001
	// train: unknown optimizer "lion" (known: Adagrad, Adam, RMSprop, SGD)
}

// Compile a model, fit it on a small problem (the class is the sign of the
// first input), and evaluate it.
func Example() {
	m, err := graph.SequentialSeed(1, graph.Input(2), &graph.Dense{Units: 2, Activation: "softmax"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Compile(&train.Adam{LearningRate: 0.1}, train.SparseCategoricalCrossentropy{}); err != nil {
		fmt.Println(err)
		return
	}
	d := graph.Data{N: 10}
	for i := 0; i < d.N; i++ {
		x := float32(i) - 4.5
		d.X = append(d.X, x, 1)
		if x > 0 {
			d.Y = append(d.Y, 1)
		} else {
			d.Y = append(d.Y, 0)
		}
	}
	h, err := m.Fit(d, graph.FitOptions{Epochs: 20, BatchSize: 4, Progress: io.Discard})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d epochs, %d steps, loss fell: %v\n", m.State.Epoch, m.State.Step, h["loss"][19] < h["loss"][0])
	r, err := m.Evaluate(d, 32)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy %.2f on %d samples\n", r.Accuracy, r.N)
	fmt.Println(r.Confusion)
	// Output:
	// 20 epochs, 60 steps, loss fell: true
	// accuracy 1.00 on 10 samples
	// [[5 0] [0 5]]
}
