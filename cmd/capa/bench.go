package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/train"
)

// capa bench measures the practical's CNN on Fashion-MNIST: training
// images/s at batch 32 and 64 over whole epochs, inference images/s over
// the test set in batches of 1000, the latency of one prediction, the
// allocations of a training step and the peak RSS; with --peer it runs the
// PyTorch reference script alternating with Capa's batch-32 runs and
// compares the medians.
//
// capa bench --arch NAME (--vgg is --arch vgg16) measures instead the
// forward pass of a pretrained family's convolutional base (random
// weights, inference) at each of --sizes (32x32 in batches of 64 and
// 224x224 one at a time by default, the batches of the peer scripts
// ../shared/peer/torch_vgg16_features.py and scripts/torch_apps_bench.py);
// with --peer it alternates with that script (see bench_base.go).

const (
	inferenceBatch = 1000 // as the peer does
	latencyWarmup  = 20   // batch-1 predictions before timing
	latencyCalls   = 200  // timed batch-1 predictions
	parallelBatch  = 32   // batch of each Predict call of the parallel measurement
	allocBase      = 2    // batches of the short Fit of the alloc measurement
	allocSteps     = 30   // extra batches of the long one
	defaultPython  = "/usr/bin/python3"
)

type benchConfig struct {
	epochs, limit, testLimit, runs int
	seed                           uint64
	data, report, peer, python     string
	peerORT                        string

	arch    string  // a family's base instead of the practical CNN (--vgg: "vgg16")
	source  string  // --arch: whose architecture (applications.Lookup)
	sizes   string  // --arch: image sizes, comma-separated
	seconds float64 // --arch: seconds per measurement
	im2col  bool    // --arch: also measure with Winograd off
}

const benchHelp = `Usage: capa bench [flags]

Without --arch: the practical's CNN on Fashion-MNIST: training images/s at
batch 32 and 64 over whole epochs, inference images/s in batches of 1000,
the latency of one prediction, the allocations of a training step, the peak
RSS. With --peer ../shared/peer/torch_seed_cnn.py the PyTorch script runs
alternately with Capa's batch-32 runs (at least 3 each) and the ratios of
the medians are reported.

With --peer-ort ../shared/peer/ort_bench.js: inference only, against ONNX
Runtime (CPU) running the same model with the same weights, exported by
Capa to ONNX: images/s in batches of 1000 and the batch-1 latency, --runs
times each (at least 5), alternating, and the ratios of the medians. With
--arch, --peer-ort runs torchvision's network exported by onnx_export.py
(beside ort_bench.js, with --python) in ONNX Runtime instead of --peer.

With --arch vgg16|resnet18|resnet34|resnet50|mobilenet_v2 (--vgg is --arch
vgg16): the forward pass of the network's convolutional base (random
weights, inference, without the top and its pooling; torchvision's
architecture unless --source keras) at each of --sizes, in batches of
max(1, min(64, 64*32*32/size²)) (64 at 32x32, 1 at 224x224), each measured
for --seconds after a warm-up. With --peer the script runs with --threads
GOMAXPROCS --sizes ... --seconds ... (and --net NAME but for vgg16),
alternating with Capa's runs --runs times, and the medians and their ratios
are reported: ../shared/peer/torch_vgg16_features.py for vgg16,
scripts/torch_apps_bench.py for the others. --im2col adds runs with the
im2col convolution (Winograd's algorithm off), alternating too, to show
Winograd's gain. Examples:

  capa bench --vgg --runs 3 --peer /work/shared/peer/torch_vgg16_features.py
  capa bench --arch mobilenet_v2 --runs 3 --peer scripts/torch_apps_bench.py

Flags:
`

func cmdBench(args []string) error {
	fs := flag.NewFlagSet("capa bench", flag.ContinueOnError)
	var c benchConfig
	fs.IntVar(&c.epochs, "epochs", 1, "epochs per training measurement")
	fs.IntVar(&c.limit, "limit", 0, "train on the first N training images only (0: all 60,000)")
	fs.IntVar(&c.testLimit, "test-limit", 0, "measure inference on the first N test images only (0: all 10,000)")
	fs.IntVar(&c.runs, "runs", 3, "measurements of each kind (at least 3 with --peer, but for --vgg); medians are reported")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the weights and the shuffling (the same for every run)")
	fs.StringVar(&c.data, "data", "", "directory with the Fashion-MNIST files (as in capa train)")
	fs.StringVar(&c.report, "report", "", "write a JSON report to this file")
	fs.StringVar(&c.peer, "peer", "", "peer benchmark script to compare with, e.g. ../shared/peer/torch_seed_cnn.py")
	fs.StringVar(&c.peerORT, "peer-ort", "", "compare inference with ONNX Runtime instead: its peer script, e.g. ../shared/peer/ort_bench.js (node, onnxruntime-node from NODE_PATH or scripts/node)")
	fs.StringVar(&c.python, "python", defaultPython, "interpreter of the --peer script (empty: run the script itself)")
	vggFlag := fs.Bool("vgg", false, "measure VGG16's convolutional base forward (random weights) instead of the practical CNN: --arch vgg16")
	fs.StringVar(&c.arch, "arch", "", "measure this network's convolutional base forward (random weights) instead of the practical CNN: vgg16, resnet18, resnet34, resnet50, mobilenet_v2")
	fs.StringVar(&c.source, "source", "torchvision", "with --arch: whose architecture, torchvision (the peer's) or keras")
	fs.StringVar(&c.sizes, "sizes", "32,224", "with --arch: image sizes (square), comma-separated")
	fs.Float64Var(&c.seconds, "seconds", 5, "with --arch: seconds per measurement (also given to the peer)")
	fs.BoolVar(&c.im2col, "im2col", false, "with --arch: also measure with the im2col convolution instead of Winograd's, alternating")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchHelp)
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args); err != nil {
		return err // help on stdout (exit 0) or a usage error (exit 2)
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *vggFlag {
		if c.arch != "" && c.arch != "vgg16" {
			return fmt.Errorf("--vgg is --arch vgg16, not --arch %s", c.arch)
		}
		c.arch = "vgg16"
	}
	if c.arch != "" {
		if c.peerORT != "" && c.peer != "" {
			return cli.Usagef("--peer and --peer-ort: one peer at a time")
		}
		return cmdBenchBase(c)
	}
	if c.epochs < 1 || c.runs < 1 || c.limit < 0 || c.testLimit < 0 {
		return fmt.Errorf("--epochs and --runs must be positive, --limit and --test-limit not negative")
	}
	if c.peerORT != "" && c.runs < 5 {
		fmt.Fprintf(os.Stderr, "capa bench: --peer-ort reports medians of at least 5 runs each: --runs 5\n")
		c.runs = 5
	}
	if c.peer != "" && c.runs < 3 {
		fmt.Fprintf(os.Stderr, "capa bench: --peer needs medians of at least 3 runs each: --runs 3\n")
		c.runs = 3
	}

	trainSet, testSet, err := dataset.LoadFashionMNIST(c.data)
	if err != nil {
		return err
	}
	if c.testLimit > 0 && c.testLimit < testSet.N {
		testSet = testSet.Slice(0, c.testLimit)
	}
	if c.peerORT != "" {
		if c.peer != "" {
			return cli.Usagef("--peer and --peer-ort: one peer at a time")
		}
		res, err := benchORT(c, testSet, os.Stderr)
		if err != nil {
			return err
		}
		printORTTable(os.Stdout, res)
		return writeBenchReport(c, res)
	}
	full := trainSet
	if c.limit > 0 && c.limit < trainSet.N {
		trainSet = trainSet.Slice(0, c.limit)
	}
	res, err := runBench(c, full, trainSet, testSet, os.Stderr)
	if err != nil {
		return err
	}
	printBenchTable(os.Stdout, res)
	return writeBenchReport(c, res)
}

// writeBenchReport writes a bench run's report to --report, if given.
func writeBenchReport(c benchConfig, res interface{ report() map[string]any }) error {
	if c.report == "" {
		return nil
	}
	return writeReport(c.report, res.report())
}

// benchResult holds every measurement of a bench run.
type benchResult struct {
	cfg                benchConfig
	trainImages        int
	testImages         int
	train32, train64   []float64    // images/s per run
	infer              []float64    // images/s per run
	latency            []float64    // seconds per batch-1 call, sorted
	parallel           [2][]float64 // Predict images/s from 1 and 2 goroutines, per run
	allocsPerStep      float64
	bytesPerStep       float64
	firstStepSeconds   float64 // a fresh trainer's first batch-32 step: graph building included
	stepSeconds        float64 // a steady-state batch-32 step
	peakRSS            int64
	peerTrain          []float64
	peerInfer          []float64
	peerFramework      string
	peerThreads        int
	trainAccuracy      float64 // of the last batch-32 run: a sanity check, not a benchmark
	blas               string
	gomaxprocs, numCPU int
}

// runBench does the measurements, with progress on logw. full is the whole
// training set, for the allocations of a step whatever --limit says.
func runBench(c benchConfig, full, trainSet, testSet *dataset.Set, logw io.Writer) (*benchResult, error) {
	r := &benchResult{
		cfg: c, trainImages: trainSet.N, testImages: testSet.N,
		blas: blasName(), gomaxprocs: runtime.GOMAXPROCS(0), numCPU: runtime.NumCPU(),
	}
	trainData, testX := capa.FromSet(trainSet), testSet.Images
	fmt.Fprintf(logw, "capa bench: %d training images, %d epoch(s) per run, %d runs, GOMAXPROCS %d\n",
		trainSet.N, c.epochs, c.runs, r.gomaxprocs)

	// Batch 32, each run followed by its inference measurement, and
	// alternating with the peer's runs (the peer first, so that a broken
	// peer fails before a long Capa run).
	for i := 0; i < c.runs; i++ {
		if c.peer != "" {
			p, err := runPeer(c, trainSet.N)
			if err != nil {
				return nil, err
			}
			tr, inf := p.trainRate(), p.inferenceRate()
			r.peerTrain = append(r.peerTrain, tr)
			r.peerInfer = append(r.peerInfer, inf)
			r.peerFramework, r.peerThreads = p.Framework, p.Threads
			fmt.Fprintf(logw, "pytorch run %d/%d: batch 32: %.1f train images/s, %.1f inference images/s\n", i+1, c.runs, tr, inf)
		}
		m, ips, acc, err := benchTrain(c, trainData, 32)
		if err != nil {
			return nil, err
		}
		r.train32 = append(r.train32, ips)
		r.trainAccuracy = acc
		inf, err := benchInference(m, testX)
		if err != nil {
			return nil, err
		}
		r.infer = append(r.infer, inf)
		fmt.Fprintf(logw, "capa    run %d/%d: batch 32: %.1f train images/s, %.1f inference images/s\n", i+1, c.runs, ips, inf)
	}

	var last *capa.Model
	for i := 0; i < c.runs; i++ {
		m, ips, _, err := benchTrain(c, trainData, 64)
		if err != nil {
			return nil, err
		}
		last = m
		r.train64 = append(r.train64, ips)
		fmt.Fprintf(logw, "capa    run %d/%d: batch 64: %.1f train images/s\n", i+1, c.runs, ips)
	}

	for i := 0; i < c.runs; i++ {
		for g := 1; g <= 2; g++ {
			ips, err := benchParallel(last, testX, g)
			if err != nil {
				return nil, err
			}
			r.parallel[g-1] = append(r.parallel[g-1], ips)
		}
		fmt.Fprintf(logw, "capa    run %d/%d: predict batch %d: %.1f images/s from 1 goroutine, %.1f from 2\n",
			i+1, c.runs, parallelBatch, r.parallel[0][i], r.parallel[1][i])
	}

	lat, err := benchLatency(last, testX[:last.InputShape().Size()])
	if err != nil {
		return nil, err
	}
	r.latency = lat
	fmt.Fprintf(logw, "capa    batch 1: median latency %.3g ms over %d calls\n", median(lat)*1e3, len(lat))

	if err := benchAllocs(c, full, r); err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "capa    batch 32 step: %.0f allocations, %.0f bytes\n", r.allocsPerStep, r.bytesPerStep)
	r.peakRSS = peakRSS()
	return r, nil
}

// newBenchModel is a fresh practical CNN and trainer, the same for every
// run of a given seed.
func newBenchModel(seed uint64) (*capa.Model, error) {
	m, err := capa.PracticalCNN(0, seed)
	if err != nil {
		return nil, err
	}
	if err := m.Compile(&train.Adam{LearningRate: 1e-3}, train.SparseCategoricalCrossentropy{}); err != nil {
		return nil, err
	}
	return m, nil
}

// benchTrain trains a fresh model for c.epochs epochs and returns it with
// its training images/s, from the epochs' own wall times (Fit's
// History["seconds"], validation off), and its last training accuracy.
// The time includes the building of the step graph in the first batch:
// the API has no way to build it without training a step.
func benchTrain(c benchConfig, d graph.Data, batch int) (*capa.Model, float64, float64, error) {
	m, err := newBenchModel(c.seed)
	if err != nil {
		return nil, 0, 0, err
	}
	runtime.GC() // leave the previous runs' garbage out of this one
	h, err := m.Fit(d, graph.FitOptions{Epochs: c.epochs, BatchSize: batch, Progress: os.Stderr})
	if err != nil {
		return nil, 0, 0, err
	}
	var secs float64
	for _, s := range h["seconds"] {
		secs += s
	}
	if len(h["seconds"]) != c.epochs || secs <= 0 {
		return nil, 0, 0, fmt.Errorf("bench: Fit recorded %d epoch times for %d epochs", len(h["seconds"]), c.epochs)
	}
	acc := h["accuracy"]
	return m, float64(d.N*c.epochs) / secs, acc[len(acc)-1], nil
}

// benchInference times Predict over x in batches of inferenceBatch, after
// one warm-up call per batch size used (which builds the graphs).
func benchInference(m *capa.Model, x []float32) (float64, error) {
	in := m.InputShape().Size()
	n := len(x) / in
	if _, err := m.Predict(x[:min(n, inferenceBatch)*in], inferenceBatch); err != nil {
		return 0, err
	}
	if rest := n % inferenceBatch; rest != 0 && n > inferenceBatch {
		if _, err := m.Predict(x[(n-rest)*in:], inferenceBatch); err != nil {
			return 0, err
		}
	}
	runtime.GC()
	start := time.Now()
	if _, err := m.Predict(x, inferenceBatch); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// benchParallel measures Predict's throughput from g goroutines at once,
// each predicting its share of x in batches of parallelBatch (as a server
// answering small requests would), after one untimed round that builds
// the graphs.
func benchParallel(m *capa.Model, x []float32, g int) (float64, error) {
	in := m.InputShape().Size()
	per := len(x) / in / g
	round := func() error {
		var wg sync.WaitGroup
		errs := make([]error, g)
		for k := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				chunk := x[k*per*in : (k+1)*per*in]
				for i := 0; i < per; i += parallelBatch {
					j := min(i+parallelBatch, per)
					if _, err := m.Predict(chunk[i*in:j*in], parallelBatch); err != nil {
						errs[k] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if err := round(); err != nil {
		return 0, err
	}
	runtime.GC()
	start := time.Now()
	if err := round(); err != nil {
		return 0, err
	}
	return float64(per*g) / time.Since(start).Seconds(), nil
}

// benchLatency returns the sorted times of latencyCalls predictions of the
// one image x, after latencyWarmup untimed ones.
func benchLatency(m *capa.Model, x []float32) ([]float64, error) {
	for i := 0; i < latencyWarmup; i++ {
		if _, err := m.Predict(x, 1); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	ts := make([]float64, latencyCalls)
	for i := range ts {
		start := time.Now()
		if _, err := m.Predict(x, 1); err != nil {
			return nil, err
		}
		ts[i] = time.Since(start).Seconds()
	}
	slices.Sort(ts)
	return ts, nil
}

// benchAllocs measures the allocations and bytes of one steady-state
// training step at batch 32: after a first step (which builds the step
// graph, timed as firstStepSeconds), runtime.ReadMemStats around a Fit of
// allocBase batches and one of allocBase+allocSteps batches; the difference
// divided by allocSteps leaves out what every Fit call costs (checks, the
// shuffling permutation, the progress bar) and keeps the steps. The data
// are the first training images, whatever --limit says.
func benchAllocs(c benchConfig, trainSet *dataset.Set, r *benchResult) error {
	const batch = 32
	if need := (allocBase + allocSteps) * batch; trainSet.N < need {
		return fmt.Errorf("bench: measuring a training step needs %d training images, have %d", need, trainSet.N)
	}
	m, err := newBenchModel(c.seed)
	if err != nil {
		return err
	}
	fit := func(batches int) (allocs, bytes uint64, secs float64, err error) {
		d := capa.FromSet(trainSet.Slice(0, batches*batch))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err = m.Fit(d, graph.FitOptions{BatchSize: batch, Progress: io.Discard})
		secs = time.Since(start).Seconds()
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc, secs, err
	}
	_, _, first, err := fit(1)
	if err != nil {
		return err
	}
	a0, b0, s0, err := fit(allocBase)
	if err != nil {
		return err
	}
	a1, b1, s1, err := fit(allocBase + allocSteps)
	if err != nil {
		return err
	}
	r.firstStepSeconds = first
	r.stepSeconds = max(s1-s0, 0) / allocSteps
	r.allocsPerStep = max(float64(a1)-float64(a0), 0) / allocSteps
	r.bytesPerStep = max(float64(b1)-float64(b0), 0) / allocSteps
	return nil
}

// blasName describes the engine behind the models (graph.Engine: the BLAS
// selected by CAPA_BLAS, the workers, Winograd), e.g. "gonum (pure Go); ...".
func blasName() string { return capa.Engine() }

// median of xs (the mean of the middle two for an even count); 0 if empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quantile of the sorted xs, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}
