package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/train"
	"github.com/capa-ml/capa/vgg"
)

// capa bench measures the practical's CNN on Fashion-MNIST: training
// images/s at batch 32 and 64 over whole epochs, inference images/s over
// the test set in batches of 1000, the latency of one prediction, the
// allocations of a training step and the peak RSS; with --peer it runs the
// PyTorch reference script alternating with Capa's batch-32 runs and
// compares the medians.
//
// capa bench --vgg measures instead the forward pass of VGG16's
// convolutional base (random weights, inference) at each of --sizes (32x32
// in batches of 64 and 224x224 one at a time by default, the batches of
// ../shared/peer/torch_vgg16_features.py); with --peer it alternates with
// that script (see benchVGG below).

const (
	inferenceBatch = 1000 // as the peer does
	latencyWarmup  = 20   // batch-1 predictions before timing
	latencyCalls   = 200  // timed batch-1 predictions
	allocBase      = 2    // batches of the short Fit of the alloc measurement
	allocSteps     = 30   // extra batches of the long one
	defaultPython  = "/usr/bin/python3"
)

type benchConfig struct {
	epochs, limit, testLimit, runs int
	seed                           uint64
	data, report, peer, python     string

	vgg     bool    // VGG16's base instead of the practical CNN
	sizes   string  // --vgg: image sizes, comma-separated
	seconds float64 // --vgg: seconds per measurement
	im2col  bool    // --vgg: also measure with Winograd off
}

const benchHelp = `Usage: capa bench [flags]

Without --vgg: the practical's CNN on Fashion-MNIST: training images/s at
batch 32 and 64 over whole epochs, inference images/s in batches of 1000,
the latency of one prediction, the allocations of a training step, the peak
RSS. With --peer ../shared/peer/torch_seed_cnn.py the PyTorch script runs
alternately with Capa's batch-32 runs (at least 3 each) and the ratios of
the medians are reported.

With --vgg: the forward pass of VGG16's convolutional base (random weights,
inference, vgg.VGG16 without the top) at each of --sizes, in batches of
max(1, min(64, 64*32*32/size²)) (64 at 32x32, 1 at 224x224), each measured
for --seconds after a warm-up. With --peer ../shared/peer/torch_vgg16_features.py
the script runs with --threads GOMAXPROCS --sizes ... --seconds ...,
alternating with Capa's runs --runs times, and the medians and their ratios
are reported. --im2col adds runs with the im2col convolution (Winograd's
algorithm off), alternating too, to show Winograd's gain. Example:

  capa bench --vgg --runs 3 --peer /work/shared/peer/torch_vgg16_features.py

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
	fs.StringVar(&c.python, "python", defaultPython, "interpreter of the --peer script (empty: run the script itself)")
	fs.BoolVar(&c.vgg, "vgg", false, "measure VGG16's convolutional base forward (random weights) instead of the practical CNN")
	fs.StringVar(&c.sizes, "sizes", "32,224", "with --vgg: image sizes (square), comma-separated")
	fs.Float64Var(&c.seconds, "seconds", 5, "with --vgg: seconds per measurement (also given to the peer)")
	fs.BoolVar(&c.im2col, "im2col", false, "with --vgg: also measure with the im2col convolution instead of Winograd's, alternating")
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
	if c.vgg {
		return cmdBenchVGG(c)
	}
	if c.epochs < 1 || c.runs < 1 || c.limit < 0 || c.testLimit < 0 {
		return fmt.Errorf("--epochs and --runs must be positive, --limit and --test-limit not negative")
	}
	if c.peer != "" && c.runs < 3 {
		fmt.Fprintf(os.Stderr, "capa bench: --peer needs medians of at least 3 runs each: --runs 3\n")
		c.runs = 3
	}

	trainSet, testSet, err := dataset.LoadFashionMNIST(c.data)
	if err != nil {
		return err
	}
	full := trainSet
	if c.limit > 0 && c.limit < trainSet.N {
		trainSet = trainSet.Slice(0, c.limit)
	}
	if c.testLimit > 0 && c.testLimit < testSet.N {
		testSet = testSet.Slice(0, c.testLimit)
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
	train32, train64   []float64 // images/s per run
	infer              []float64 // images/s per run
	latency            []float64 // seconds per batch-1 call, sorted
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

// peerEpoch is one epoch line of the peer script's output.
type peerEpoch struct {
	Epoch        int     `json:"epoch"`
	TrainSeconds float64 `json:"train_seconds"`
	TrainRate    float64 `json:"train_images_per_second"`
	TestAccuracy float64 `json:"test_accuracy"`
	InferRate    float64 `json:"inference_images_per_second"`
}

// peerOutput is what one run of the peer script printed.
type peerOutput struct {
	Epochs    []peerEpoch
	Framework string // from the summary line, if any
	Threads   int
}

// parsePeerOutput reads the peer's standard output: one JSON object per
// epoch with train_images_per_second and inference_images_per_second, and a
// summary object ("summary": true). Other lines (warnings) are skipped. It
// fails if no epoch line has both rates.
func parsePeerOutput(r io.Reader) (peerOutput, error) {
	var p peerOutput
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var lines []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		lines = append(lines, line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &raw) != nil {
			continue
		}
		if s, ok := raw["summary"]; ok && string(s) == "true" {
			var sum struct {
				Framework string `json:"framework"`
				Threads   int    `json:"threads"`
			}
			json.Unmarshal([]byte(line), &sum)
			p.Framework, p.Threads = sum.Framework, sum.Threads
			continue
		}
		if raw["train_images_per_second"] == nil || raw["inference_images_per_second"] == nil {
			continue
		}
		var e peerEpoch
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return p, fmt.Errorf("peer output: %q: %v", line, err)
		}
		if !(e.TrainRate > 0) || !(e.InferRate > 0) || math.IsInf(e.TrainRate, 0) || math.IsInf(e.InferRate, 0) {
			return p, fmt.Errorf("peer output: rates must be positive: %q", line)
		}
		p.Epochs = append(p.Epochs, e)
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("peer output: %w", err)
	}
	if len(p.Epochs) == 0 {
		return p, fmt.Errorf("peer output has no line with train_images_per_second and inference_images_per_second:\n%s", tail(lines, 10))
	}
	return p, nil
}

// trainRate is the run's training images/s over all its epochs (the
// harmonic mean of the epochs' rates, as the epochs are of equal size).
func (p peerOutput) trainRate() float64 {
	return harmonic(p.Epochs, func(e peerEpoch) float64 { return e.TrainRate })
}

// inferenceRate is the run's inference images/s, likewise.
func (p peerOutput) inferenceRate() float64 {
	return harmonic(p.Epochs, func(e peerEpoch) float64 { return e.InferRate })
}

func harmonic(es []peerEpoch, f func(peerEpoch) float64) float64 {
	var inv float64
	for _, e := range es {
		inv += 1 / f(e)
	}
	return float64(len(es)) / inv
}

// runPeer runs the peer script once on n training images with as many
// threads as GOMAXPROCS and parses its output.
func runPeer(c benchConfig, n int) (peerOutput, error) {
	args := []string{"--epochs", strconv.Itoa(c.epochs), "--batch-size", "32",
		"--threads", strconv.Itoa(runtime.GOMAXPROCS(0)), "--limit", strconv.Itoa(n)}
	if c.data != "" {
		args = append(args, "--data", c.data)
	}
	var cmd *exec.Cmd
	if c.python != "" {
		cmd = exec.Command(c.python, append([]string{c.peer}, args...)...)
	} else {
		cmd = exec.Command(c.peer, args...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return peerOutput{}, fmt.Errorf("peer %s: %v\n%s", strings.Join(cmd.Args, " "), err,
			tail(strings.Split(strings.TrimSpace(stderr.String()), "\n"), 10))
	}
	p, err := parsePeerOutput(&stdout)
	if err != nil {
		return p, fmt.Errorf("peer %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return p, nil
}

func tail(lines []string, n int) string {
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

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

func (r *benchResult) report() map[string]any {
	v := map[string]any{
		"model":                                "practical CNN (capa.PracticalCNN(0, seed)), adam lr 1e-3, sparse categorical cross-entropy",
		"seed":                                 r.cfg.seed,
		"epochs":                               r.cfg.epochs,
		"runs":                                 r.cfg.runs,
		"train_images":                         r.trainImages,
		"test_images":                          r.testImages,
		"train_images_per_second":              median(r.train32),
		"train_images_per_second_runs":         r.train32,
		"train_images_per_second_batch64":      median(r.train64),
		"train_images_per_second_batch64_runs": r.train64,
		"train_accuracy":                       r.trainAccuracy,
		"inference_batch_size":                 inferenceBatch,
		"inference_images_per_second":          median(r.infer),
		"inference_images_per_second_runs":     r.infer,
		"latency_batch1_seconds":               median(r.latency),
		"latency_batch1_p10_seconds":           quantile(r.latency, 0.1),
		"latency_batch1_p90_seconds":           quantile(r.latency, 0.9),
		"latency_batch1_calls":                 len(r.latency),
		"allocs_per_step":                      r.allocsPerStep,
		"bytes_per_step":                       r.bytesPerStep,
		"alloc_steps":                          allocSteps,
		"step_seconds":                         r.stepSeconds,
		"first_step_seconds":                   r.firstStepSeconds,
		"peak_rss_bytes":                       r.peakRSS,
	}
	addBenchEnv(v, r.blas, r.gomaxprocs, r.numCPU)
	if r.cfg.peer != "" {
		v["peer_script"] = r.cfg.peer
		v["peer_framework"] = r.peerFramework
		v["peer_threads"] = r.peerThreads
		v["peer_train_images_per_second"] = median(r.peerTrain)
		v["peer_train_images_per_second_runs"] = r.peerTrain
		v["peer_inference_images_per_second"] = median(r.peerInfer)
		v["peer_inference_images_per_second_runs"] = r.peerInfer
		v["train_ratio"] = median(r.train32) / median(r.peerTrain)
		v["inference_ratio"] = median(r.infer) / median(r.peerInfer)
	}
	return v
}

func printBenchTable(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "capa bench: practical CNN, %d training images x %d epoch(s), %d test images, %d runs; GOMAXPROCS %d, %s, BLAS %s\n",
		r.trainImages, r.cfg.epochs, r.testImages, r.cfg.runs, r.gomaxprocs, runtime.Version(), r.blas)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, med string, runs []float64) {
		var s []string
		for _, x := range runs {
			s = append(s, fmt.Sprintf("%.1f", x))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, med, strings.Join(s, " "))
	}
	fmt.Fprintf(tw, "\tmedian\truns\n")
	row("train images/s, batch 32", fmt.Sprintf("%.1f", median(r.train32)), r.train32)
	row("train images/s, batch 64", fmt.Sprintf("%.1f", median(r.train64)), r.train64)
	row("inference images/s, batch 1000", fmt.Sprintf("%.1f", median(r.infer)), r.infer)
	if r.cfg.peer != "" {
		row("pytorch train images/s, batch 32", fmt.Sprintf("%.1f", median(r.peerTrain)), r.peerTrain)
		row("pytorch inference images/s", fmt.Sprintf("%.1f", median(r.peerInfer)), r.peerInfer)
		row("train ratio capa/pytorch", fmt.Sprintf("%.3f", median(r.train32)/median(r.peerTrain)), nil)
		row("inference ratio capa/pytorch", fmt.Sprintf("%.3f", median(r.infer)/median(r.peerInfer)), nil)
	}
	fmt.Fprintf(tw, "latency, batch 1\t%.3f ms\tp10 %.3f ms, p90 %.3f ms, %d calls\n",
		median(r.latency)*1e3, quantile(r.latency, 0.1)*1e3, quantile(r.latency, 0.9)*1e3, len(r.latency))
	fmt.Fprintf(tw, "allocations per step, batch 32\t%.0f\n", r.allocsPerStep)
	fmt.Fprintf(tw, "bytes per step, batch 32\t%.0f\n", r.bytesPerStep)
	fmt.Fprintf(tw, "steady step, batch 32\t%.1f ms\tfirst step of a fresh trainer %.0f ms (graph building included)\n", r.stepSeconds*1e3, r.firstStepSeconds*1e3)
	fmt.Fprintf(tw, "peak RSS\t%.1f MB\n", float64(r.peakRSS)/1e6)
	tw.Flush()
}

// ---- capa bench --vgg ----

// vggBatch is the batch size of the VGG benchmark at hw x hw, the peer
// script's: 64 images of 32x32 or as many pixels, at least 1 (1 at
// 224x224).
func vggBatch(hw int) int { return max(1, min(64, (64*32*32)/(hw*hw))) }

// parseSizes reads --sizes: comma-separated image sizes of at least 32
// (VGG16's base needs 32x32).
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 32 {
			return nil, fmt.Errorf("--sizes: %q is not an image size of at least 32", f)
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("--sizes: %d given twice", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// vggBenchSize holds the measurements of one image size, images/s per run.
type vggBenchSize struct {
	hw, batch          int
	capa, im2col, peer []float64
}

// vggBenchResult holds every measurement of a capa bench --vgg run.
type vggBenchResult struct {
	cfg                benchConfig
	sizes              []*vggBenchSize
	peerFramework      string
	blas               string
	winograd           bool // Winograd's algorithm on for Capa's main runs
	gomaxprocs, numCPU int
}

func cmdBenchVGG(c benchConfig) error {
	if c.runs < 1 || !(c.seconds > 0) {
		return fmt.Errorf("--runs and --seconds must be positive")
	}
	if c.peer != "" && c.runs < 3 {
		fmt.Fprintf(os.Stderr, "capa bench: %d run(s) each: use --runs 3 or more for medians worth comparing\n", c.runs)
	}
	res, err := runBenchVGG(c, os.Stderr)
	if err != nil {
		return err
	}
	printVGGTable(os.Stdout, res)
	return writeBenchReport(c, res)
}

// vggModel is VGG16's base for one size with its input batch.
type vggModel struct {
	size *vggBenchSize
	m    interface {
		Predict(x []float32, batch int) ([]float32, error)
	}
	x []float32
}

// runBenchVGG does the measurements, with progress on logw: --runs rounds,
// each the peer's run (all sizes) first, so that a broken peer fails before
// Capa's, then Capa's runs of every size (and the im2col ones with
// --im2col).
func runBenchVGG(c benchConfig, logw io.Writer) (*vggBenchResult, error) {
	hws, err := parseSizes(c.sizes)
	if err != nil {
		return nil, err
	}
	r := &vggBenchResult{cfg: c, blas: blasName(), winograd: graph.Engine().Winograd,
		gomaxprocs: runtime.GOMAXPROCS(0), numCPU: runtime.NumCPU()}
	defer graph.SetWinograd(r.winograd)
	var models []vggModel
	for _, hw := range hws {
		m, err := vgg.VGG16(vgg.Config{Height: hw, Width: hw, Seed: c.seed})
		if err != nil {
			return nil, err
		}
		sz := &vggBenchSize{hw: hw, batch: vggBatch(hw)}
		r.sizes = append(r.sizes, sz)
		// Uniform [0, 1) images, as the peer's torch.rand.
		rng := rand.New(rand.NewPCG(c.seed, 7))
		x := make([]float32, sz.batch*hw*hw*3)
		for i := range x {
			x[i] = rng.Float32()
		}
		models = append(models, vggModel{sz, m, x})
	}
	fmt.Fprintf(logw, "capa bench --vgg: VGG16 base at %s, %d run(s) of %g s each, GOMAXPROCS %d, Winograd %v\n",
		c.sizes, c.runs, c.seconds, r.gomaxprocs, r.winograd)
	modes := []bool{r.winograd}
	if c.im2col {
		modes = append(modes, false)
	}
	// A warm-up call per size and mode builds the graphs and their buffers.
	for _, vm := range models {
		for _, wino := range modes {
			graph.SetWinograd(wino)
			if _, err := vm.m.Predict(vm.x, vm.size.batch); err != nil {
				return nil, err
			}
		}
	}
	for i := 0; i < c.runs; i++ {
		if c.peer != "" {
			rates, fw, err := runVGGPeer(c, hws)
			if err != nil {
				return nil, err
			}
			r.peerFramework = fw
			for j, sz := range r.sizes {
				sz.peer = append(sz.peer, rates[j])
				fmt.Fprintf(logw, "pytorch run %d/%d: %dx%d batch %d: %.2f images/s\n", i+1, c.runs, sz.hw, sz.hw, sz.batch, rates[j])
			}
		}
		for _, vm := range models {
			for k, wino := range modes {
				graph.SetWinograd(wino)
				ips, err := timeVGG(vm, c.seconds)
				if err != nil {
					return nil, err
				}
				sz, name := vm.size, "capa"
				if k == 0 {
					sz.capa = append(sz.capa, ips)
				} else {
					sz.im2col = append(sz.im2col, ips)
					name = "capa im2col"
				}
				fmt.Fprintf(logw, "%-7s run %d/%d: %dx%d batch %d: %.2f images/s\n", name, i+1, c.runs, sz.hw, sz.hw, sz.batch, ips)
			}
		}
	}
	return r, nil
}

// timeVGG runs Predict on its batch until seconds have passed (at least
// once) and returns the images/s.
func timeVGG(vm vggModel, seconds float64) (float64, error) {
	runtime.GC()
	start := time.Now()
	done := 0
	for done == 0 || time.Since(start).Seconds() < seconds {
		if _, err := vm.m.Predict(vm.x, vm.size.batch); err != nil {
			return 0, err
		}
		done += vm.size.batch
	}
	return float64(done) / time.Since(start).Seconds(), nil
}

// runVGGPeer runs the peer script once on the sizes, with as many threads
// as GOMAXPROCS, and returns its images/s per size (in the order of hws)
// and the framework it names. It reads one JSON object per size with
// "size" and "images_per_second"; other lines (warnings) are skipped.
func runVGGPeer(c benchConfig, hws []int) ([]float64, string, error) {
	var sizes []string
	for _, hw := range hws {
		sizes = append(sizes, strconv.Itoa(hw))
	}
	args := []string{"--threads", strconv.Itoa(runtime.GOMAXPROCS(0)), "--sizes", strings.Join(sizes, ","),
		"--seconds", strconv.FormatFloat(c.seconds, 'g', -1, 64)}
	var cmd *exec.Cmd
	if c.python != "" {
		cmd = exec.Command(c.python, append([]string{c.peer}, args...)...)
	} else {
		cmd = exec.Command(c.peer, args...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("peer %s: %v\n%s", strings.Join(cmd.Args, " "), err,
			tail(strings.Split(strings.TrimSpace(stderr.String()), "\n"), 10))
	}
	rates, fw, err := parseVGGPeerOutput(&stdout, hws)
	if err != nil {
		return nil, "", fmt.Errorf("peer %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return rates, fw, nil
}

// parseVGGPeerOutput reads the VGG peer's standard output (see runVGGPeer)
// and returns the images/s of each of hws, failing if one is missing or
// not a positive number.
func parseVGGPeerOutput(r io.Reader, hws []int) ([]float64, string, error) {
	got := map[int]float64{}
	var fw string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var lines []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		lines = append(lines, line)
		var v struct {
			Size      *int     `json:"size"`
			Rate      *float64 `json:"images_per_second"`
			Framework string   `json:"framework"`
		}
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &v) != nil || v.Size == nil || v.Rate == nil {
			continue
		}
		if !(*v.Rate > 0) || math.IsInf(*v.Rate, 0) {
			return nil, "", fmt.Errorf("peer output: images_per_second must be positive: %q", line)
		}
		got[*v.Size] = *v.Rate
		if v.Framework != "" {
			fw = v.Framework
		}
	}
	if err := sc.Err(); err != nil {
		return nil, "", fmt.Errorf("peer output: %w", err)
	}
	out := make([]float64, len(hws))
	for i, hw := range hws {
		rate, ok := got[hw]
		if !ok {
			return nil, "", fmt.Errorf("peer output has no line with size %d and images_per_second:\n%s", hw, tail(lines, 10))
		}
		out[i] = rate
	}
	return out, fw, nil
}

func (r *vggBenchResult) report() map[string]any {
	var sizes []map[string]any
	for _, sz := range r.sizes {
		v := map[string]any{
			"size":                   sz.hw,
			"batch_size":             sz.batch,
			"images_per_second":      median(sz.capa),
			"images_per_second_runs": sz.capa,
		}
		if r.cfg.im2col {
			v["im2col_images_per_second"] = median(sz.im2col)
			v["im2col_images_per_second_runs"] = sz.im2col
			v["winograd_speedup"] = median(sz.capa) / median(sz.im2col)
		}
		if r.cfg.peer != "" {
			v["peer_images_per_second"] = median(sz.peer)
			v["peer_images_per_second_runs"] = sz.peer
			v["ratio"] = median(sz.capa) / median(sz.peer)
		}
		sizes = append(sizes, v)
	}
	v := map[string]any{
		"model":    "VGG16 convolutional base (vgg.VGG16, no top), random weights (seed), forward only",
		"seed":     r.cfg.seed,
		"runs":     r.cfg.runs,
		"seconds":  r.cfg.seconds,
		"sizes":    sizes,
		"winograd": r.winograd,
	}
	addBenchEnv(v, r.blas, r.gomaxprocs, r.numCPU)
	if r.cfg.peer != "" {
		v["peer_script"] = r.cfg.peer
		v["peer_framework"] = r.peerFramework
		v["peer_threads"] = r.gomaxprocs
	}
	return v
}

func printVGGTable(w io.Writer, r *vggBenchResult) {
	conv := "im2col"
	if r.winograd {
		conv = "Winograd F(4x4,3x3) for wide 3x3 layers, F(2x2,3x3) for the others"
	}
	fmt.Fprintf(w, "capa bench --vgg: VGG16 convolutional base, forward, random weights; %d run(s) of %g s; GOMAXPROCS %d, %s, BLAS %s, convolution %s\n",
		r.cfg.runs, r.cfg.seconds, r.gomaxprocs, runtime.Version(), r.blas, conv)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, med string, runs []float64) {
		var s []string
		for _, x := range runs {
			s = append(s, fmt.Sprintf("%.2f", x))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, med, strings.Join(s, " "))
	}
	fmt.Fprintf(tw, "\tmedian\truns\n")
	for _, sz := range r.sizes {
		name := fmt.Sprintf("%dx%d batch %d", sz.hw, sz.hw, sz.batch)
		row(name+": capa images/s", fmt.Sprintf("%.2f", median(sz.capa)), sz.capa)
		if r.cfg.im2col {
			row(name+": capa im2col images/s", fmt.Sprintf("%.2f", median(sz.im2col)), sz.im2col)
			row(name+": winograd speedup", fmt.Sprintf("%.3f", median(sz.capa)/median(sz.im2col)), nil)
		}
		if r.cfg.peer != "" {
			row(name+": pytorch images/s", fmt.Sprintf("%.2f", median(sz.peer)), sz.peer)
			row(name+": ratio capa/pytorch", fmt.Sprintf("%.3f", median(sz.capa)/median(sz.peer)), nil)
		}
	}
	tw.Flush()
}

// addBenchEnv records in a bench report what the numbers were measured on:
// the BLAS, the cores, the Go toolchain and platform, and the time.
func addBenchEnv(v map[string]any, blas string, gomaxprocs, numCPU int) {
	v["blas"] = blas
	v["gomaxprocs"] = gomaxprocs
	v["num_cpu"] = numCPU
	v["go_version"] = runtime.Version()
	v["goos"] = runtime.GOOS
	v["goarch"] = runtime.GOARCH
	v["time"] = time.Now().UTC().Format(time.RFC3339)
}
