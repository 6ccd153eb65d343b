package train_test

import (
	"io"
	"math/rand/v2"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// Benchmarks of the practical's CNN (capa.PracticalCNN, Adam 1e-3, sparse
// categorical cross-entropy) on synthetic data, so that they run anywhere:
//
//	go test ./train -run '^$' -bench . -benchtime 20x
//
// capa bench measures the same on Fashion-MNIST, over whole epochs.

const benchPool = 16 // batches of synthetic data, reused

// benchData is n random 28x28x1 images in [0, 1) with random labels 0..9.
func benchData(n int) graph.Data {
	rng := rand.New(rand.NewPCG(1, 2))
	d := graph.Data{X: make([]float32, n*28*28), Y: make([]float32, n), N: n}
	for i := range d.X {
		d.X[i] = rng.Float32()
	}
	for i := range d.Y {
		d.Y[i] = float32(rng.IntN(10))
	}
	return d
}

func benchModel(b *testing.B) *capa.Model {
	b.Helper()
	m, err := capa.PracticalCNN(0, 1)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Compile(&train.Adam{LearningRate: 1e-3}, train.SparseCategoricalCrossentropy{}); err != nil {
		b.Fatal(err)
	}
	return m
}

// benchTrainStep times b.N training steps at the given batch size through
// Fit, in calls of at most benchPool steps, after one untimed step that
// builds the step graph. Every Fit call adds its own small cost (label
// checks, the shuffling permutation) to its steps.
func benchTrainStep(b *testing.B, batch int) {
	m := benchModel(b)
	d := benchData(benchPool * batch)
	slice := func(k int) graph.Data {
		return graph.Data{X: d.X[:k*batch*28*28], Y: d.Y[:k*batch], N: k * batch}
	}
	opts := graph.FitOptions{BatchSize: batch, Progress: io.Discard}
	if _, err := m.Fit(slice(1), opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; left -= benchPool {
		if _, err := m.Fit(slice(min(left, benchPool)), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkTrainStepBatch32(b *testing.B) { benchTrainStep(b, 32) }
func BenchmarkTrainStepBatch64(b *testing.B) { benchTrainStep(b, 64) }

// benchPredict times Predict of one batch, after one untimed call that
// builds the inference graph.
func benchPredict(b *testing.B, batch int) {
	m := benchModel(b)
	x := benchData(batch).X
	if _, err := m.Predict(x, batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Predict(x, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkPredictBatch1000(b *testing.B) { benchPredict(b, 1000) }
func BenchmarkPredictBatch1(b *testing.B)    { benchPredict(b, 1) }

// BenchmarkPredictBatch16 is the batch capa serve runs under load.
func BenchmarkPredictBatch16(b *testing.B) { benchPredict(b, 16) }
