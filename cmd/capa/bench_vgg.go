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

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/vgg"
)

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
