package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/capa-ml/capa/applications"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/vgg"
)

// ---- capa bench --arch (--vgg) ----

// baseBatch is the batch size of the base benchmark at hw x hw, the peer
// scripts': 64 images of 32x32 or as many pixels, at least 1 (1 at
// 224x224).
func baseBatch(hw int) int { return max(1, min(64, (64*32*32)/(hw*hw))) }

// parseSizes reads --sizes: comma-separated image sizes of at least 32
// (VGG16's and ResNet's bases need 32x32).
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

// baseBenchSize holds the measurements of one image size, images/s per run.
type baseBenchSize struct {
	hw, batch          int
	capa, im2col, peer []float64
}

// baseBenchResult holds every measurement of a capa bench --arch run.
type baseBenchResult struct {
	cfg                benchConfig
	model              string // what was measured, for the table and the report
	sizes              []*baseBenchSize
	peerFramework      string
	blas               string
	winograd           bool // Winograd's algorithm on for Capa's main runs
	gomaxprocs, numCPU int
}

func cmdBenchBase(c benchConfig) error {
	if c.runs < 1 || !(c.seconds > 0) {
		return fmt.Errorf("--runs and --seconds must be positive")
	}
	if c.peer != "" && c.runs < 3 {
		fmt.Fprintf(os.Stderr, "capa bench: %d run(s) each: use --runs 3 or more for medians worth comparing\n", c.runs)
	}
	res, err := runBenchBase(c, os.Stderr)
	if err != nil {
		return err
	}
	printBaseTable(os.Stdout, res)
	return writeBenchReport(c, res)
}

// baseModel is the measured base for one size with its input batch.
type baseModel struct {
	size *baseBenchSize
	m    interface {
		Predict(x []float32, batch int) ([]float32, error)
	}
	x []float32
}

// runBenchBase does the measurements, with progress on logw: --runs rounds,
// each the peer's run (all sizes) first, so that a broken peer fails before
// Capa's, then Capa's runs of every size (and the im2col ones with
// --im2col).
func runBenchBase(c benchConfig, logw io.Writer) (*baseBenchResult, error) {
	hws, err := parseSizes(c.sizes)
	if err != nil {
		return nil, err
	}
	r := &baseBenchResult{cfg: c, blas: blasName(), winograd: graph.Engine().Winograd,
		gomaxprocs: runtime.GOMAXPROCS(0), numCPU: runtime.NumCPU()}
	defer graph.SetWinograd(r.winograd)
	var models []baseModel
	for _, hw := range hws {
		m, desc, err := buildBase(c, hw)
		if err != nil {
			return nil, err
		}
		r.model = desc
		sz := &baseBenchSize{hw: hw, batch: baseBatch(hw)}
		r.sizes = append(r.sizes, sz)
		// Uniform [0, 1) images, as the peer's torch.rand.
		rng := rand.New(rand.NewPCG(c.seed, 7))
		x := make([]float32, sz.batch*hw*hw*3)
		for i := range x {
			x[i] = rng.Float32()
		}
		models = append(models, baseModel{sz, m, x})
	}
	fmt.Fprintf(logw, "capa bench --arch %s: %s at %s, %d run(s) of %g s each, GOMAXPROCS %d, Winograd %v\n",
		c.arch, r.model, c.sizes, c.runs, c.seconds, r.gomaxprocs, r.winograd)
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
	var ortModels []string
	if c.peerORT != "" {
		dir, err := os.MkdirTemp("", "capa-bench-ort-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		for _, hw := range hws {
			f, err := exportORTPeer(c, dir, hw)
			if err != nil {
				return nil, err
			}
			ortModels = append(ortModels, f)
		}
	}
	for i := 0; i < c.runs; i++ {
		for j, f := range ortModels {
			sz := r.sizes[j]
			o, err := runORT(c, f, sz.batch, r.gomaxprocs)
			if err != nil {
				return nil, err
			}
			r.peerFramework = o.Framework
			sz.peer = append(sz.peer, o.Rate)
			fmt.Fprintf(logw, "ort     run %d/%d: %dx%d batch %d: %.2f images/s\n", i+1, c.runs, sz.hw, sz.hw, sz.batch, o.Rate)
		}
		if c.peer != "" {
			rates, fw, err := runBasePeer(c, hws)
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
				ips, err := timeBase(vm, c.seconds)
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

// buildBase makes the convolutional base of --arch at hw x hw with random
// weights (seed), without the top and its pooling, as the peer scripts
// measure it: VGG16's from package vgg, the others from applications
// (torchvision's architecture by default, the peer's).
func buildBase(c benchConfig, hw int) (*graph.Model, string, error) {
	if c.arch == "vgg16" {
		m, err := vgg.VGG16(vgg.Config{Height: hw, Width: hw, Seed: c.seed})
		return m, "VGG16 convolutional base (vgg.VGG16, no top)", err
	}
	a, err := applications.Lookup(c.arch, c.source)
	if err != nil {
		return nil, "", err
	}
	m, err := a.Build(applications.Config{NoTop: true, Height: hw, Width: hw, Seed: c.seed})
	return m, fmt.Sprintf("%s base (%s's architecture, no top, no pooling)", a.Name, a.Source), err
}

// timeBase runs Predict on its batch until seconds have passed (at least
// once) and returns the images/s.
func timeBase(vm baseModel, seconds float64) (float64, error) {
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
