// Command modelv1 writes testdata/model-v1.capa and testdata/model-v1.json,
// the fixture of capa_test.go's TestLoadFormatVersion1: a small model using
// every built-in layer and option (a frozen layer, a Conv2D without bias,
// "same" padding, strides, BatchNormalization, Dropout, an augmentation
// layer, a regularizer), trained two epochs with Adam on random data and
// saved, and the predictions and next-epoch loss that the model gave when it
// was written.
//
// The committed files were written by Capa at commit e115d69, the last one
// that wrote model files of format version 1; a later Capa writes a later
// version with this command, so regenerate them only from that commit:
//
//	git worktree add /tmp/v1 e115d69 && cp -r scripts/modelv1 /tmp/v1/scripts/
//	(cd /tmp/v1 && go run ./scripts/modelv1 -out "$PWD/testdata")
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/augment"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// Expected is what the model gave when the fixture was written.
type Expected struct {
	// FormatVersion is the version the file was written with.
	FormatVersion int `json:"format_version"`
	// Input is the batch Predict was given, (N, 8, 8, 1) flattened.
	Input []float32 `json:"input"`
	// Predictions are the outputs, (N, 3) flattened, bit for bit.
	Predictions []float32 `json:"predictions"`
	// NextLoss is the training loss of one more epoch after loading.
	NextLoss float64 `json:"next_loss"`
}

// Data returns the fixture's random training set.
func Data() graph.Data {
	r := rand.New(rand.NewPCG(7, 8))
	n := 48
	x := make([]float32, n*8*8)
	y := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()
	}
	for i := range y {
		y[i] = float32(r.IntN(3))
	}
	return graph.Data{X: x, Y: y, N: n}
}

func main() {
	out := flag.String("out", "testdata", "directory for model-v1.capa and model-v1.json")
	flag.Parse()
	m, err := capa.SequentialSeed(42,
		graph.Input(8, 8, 1),
		&augment.RandomFlip{Mode: "horizontal"},
		&graph.Conv2D{Base: graph.Base{Frozen: true}, Filters: 4, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"},
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, NoBias: true, KernelInitializer: "he_normal"},
		&graph.BatchNormalization{},
		&graph.Activation{Activation: "relu"},
		&graph.MaxPooling2D{PoolSize: [2]int{2, 2}, Padding: "same"},
		&graph.AveragePooling2D{PoolSize: [2]int{1, 1}},
		&graph.Flatten{},
		&graph.Dropout{Rate: 0.25},
		&graph.Dense{Units: 6, Activation: "tanh", KernelRegularizer: &graph.Regularizer{L2: 1e-3}},
		&graph.Dense{Units: 3, Activation: "softmax"},
	)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Compile(&train.Adam{LearningRate: 3e-3}, train.SparseCategoricalCrossentropy{}); err != nil {
		log.Fatal(err)
	}
	d := Data()
	if _, err := m.Fit(d, graph.FitOptions{Epochs: 2, BatchSize: 16, Progress: io.Discard}); err != nil {
		log.Fatal(err)
	}
	file := filepath.Join(*out, "model-v1.capa")
	if err := m.Save(file); err != nil {
		log.Fatal(err)
	}
	e := Expected{FormatVersion: graph.FormatVersion, Input: d.X[:4*64]}
	p, err := m.Predict(e.Input, 4)
	if err != nil {
		log.Fatal(err)
	}
	e.Predictions = p
	h, err := m.Fit(d, graph.FitOptions{Epochs: 3, BatchSize: 16, Progress: io.Discard})
	if err != nil {
		log.Fatal(err)
	}
	e.NextLoss = h["loss"][len(h["loss"])-1]
	b, err := json.MarshalIndent(e, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "model-v1.json"), append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", file)
}
