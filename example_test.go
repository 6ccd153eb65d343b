package capa_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// The course practical's network and its summary.
func ExamplePracticalCNN() {
	m, err := capa.PracticalCNN(0, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(m.Summary())
	// Output:
	// Model: "sequential"
	// _____________________________________________________________________
	//  Layer (type)                    Output Shape              Param #
	// =====================================================================
	//  conv2d (Conv2D)                 (None, 24, 24, 32)        832
	//
	//  max_pooling2d (MaxPooling2D)    (None, 12, 12, 32)        0
	//
	//  conv2d_1 (Conv2D)               (None, 8, 8, 64)          51,264
	//
	//  max_pooling2d_1 (MaxPooling2D)  (None, 4, 4, 64)          0
	//
	//  flatten (Flatten)               (None, 1024)              0
	//
	//  dense (Dense)                   (None, 10)                10,250
	// =====================================================================
	// Total params: 62,346
	// Trainable params: 62,346
	// Non-trainable params: 0
	// _____________________________________________________________________
}

// Compile, fit, evaluate, save and load through the facade, on a tiny data
// set of 4x4 images whose class is the bright half (left or right).
func ExampleModel_Fit() {
	set := &dataset.Set{N: 8, H: 4, W: 4, C: 1, Images: make([]float32, 8*16), Labels: make([]uint8, 8)}
	for i := 0; i < set.N; i++ {
		set.Labels[i] = uint8(i % 2)
		for p := 0; p < 16; p++ {
			if (p%4 < 2) == (i%2 == 0) {
				set.Images[i*16+p] = 1
			}
		}
	}
	m, err := capa.SequentialSeed(1,
		graph.Input(4, 4, 1),
		&graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.Flatten{},
		&graph.Dense{Units: 2, Activation: "softmax"},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.Fit(capa.FromSet(set), graph.FitOptions{}); err != nil {
		fmt.Println(err)
	}
	if err := m.Compile(&train.Adam{LearningRate: 0.05}, train.SparseCategoricalCrossentropy{}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.Fit(capa.FromSet(set), graph.FitOptions{Epochs: 10, BatchSize: 4, Progress: io.Discard}); err != nil {
		fmt.Println(err)
		return
	}
	r, err := m.Evaluate(capa.FromSet(set), 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy %.2f, epochs %d\n", r.Accuracy, m.State.Epoch)

	dir, err := os.MkdirTemp("", "capa-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.capa")
	if err := m.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	m2, err := capa.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	r2, err := m2.Evaluate(capa.FromSet(set), 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loaded: accuracy %.2f, epochs %d, same loss %v\n", r2.Accuracy, m2.State.Epoch, r2.Loss == r.Loss)
	// Output:
	// graph: Fit needs a model compiled with an optimizer and a loss: call Compile first
	// accuracy 1.00, epochs 10
	// loaded: accuracy 1.00, epochs 10, same loss true
}
