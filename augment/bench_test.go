package augment_test

import (
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/augment"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// The cost of augmentation during training, on synthetic data so that it
// runs anywhere:
//
//	go test ./augment -run '^$' -bench Epoch -benchtime 10x
//
// BenchmarkEpoch trains the course's CNN (capa.PracticalCNN, Adam, batch
// 32) on 2,048 images, alternating an epoch without augmentation and one
// with the default Fashion-MNIST pipeline handed to Fit (alternating, so
// that a change in the machine's load affects both alike), and reports
// both times and the overhead in percent.

func benchImages(n int) graph.Data {
	r := rand.New(rand.NewPCG(1, 2))
	d := graph.Data{X: make([]float32, n*28*28), Y: make([]float32, n), N: n}
	for i := range d.X {
		d.X[i] = r.Float32()
	}
	for i := range d.Y {
		d.Y[i] = float32(r.IntN(10))
	}
	return d
}

func BenchmarkEpoch(b *testing.B) {
	d := benchImages(2048)
	model := func() *capa.Model {
		m, err := capa.PracticalCNN(0, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Compile(&train.Adam{LearningRate: 1e-3}, train.SparseCategoricalCrossentropy{}); err != nil {
			b.Fatal(err)
		}
		return m
	}
	plain, aug := model(), model()
	plainOpts := graph.FitOptions{BatchSize: 32, Progress: io.Discard}
	augOpts := graph.FitOptions{BatchSize: 32, Progress: io.Discard, Augment: augment.FashionMNIST(1)}
	warm := graph.Data{X: d.X[:64*784], Y: d.Y[:64], N: 64}
	for _, w := range []struct {
		m *capa.Model
		o graph.FitOptions
	}{{plain, plainOpts}, {aug, augOpts}} {
		if _, err := w.m.Fit(warm, w.o); err != nil { // builds the step graph
			b.Fatal(err)
		}
	}
	var tPlain, tAug time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := plain.Fit(d, plainOpts); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := aug.Fit(d, augOpts); err != nil {
			b.Fatal(err)
		}
		tPlain += t1.Sub(t0)
		tAug += time.Since(t1)
	}
	b.ReportMetric(tPlain.Seconds()*1e3/float64(b.N), "ms/epoch-plain")
	b.ReportMetric(tAug.Seconds()*1e3/float64(b.N), "ms/epoch-augmented")
	b.ReportMetric(100*(tAug.Seconds()/tPlain.Seconds()-1), "overhead-%")
}

// BenchmarkApply times the default pipeline alone on one batch of 32.
func BenchmarkApply(b *testing.B) {
	for _, workers := range []int{1, 0} {
		b.Run(map[int]string{1: "workers=1", 0: "workers=max"}[workers], func(b *testing.B) {
			x := benchImages(32).X
			p := augment.FashionMNIST(1)
			p.Workers = workers
			b.ReportAllocs()
			for range b.N {
				p.Apply(x, 32, []int{28, 28, 1})
			}
			b.ReportMetric(float64(b.N*32)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
