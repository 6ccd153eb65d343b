package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// The reports and tables of capa bench.

func (r *benchResult) report() map[string]any {
	v := map[string]any{
		"model":                                  "practical CNN (capa.PracticalCNN(0, seed)), adam lr 1e-3, sparse categorical cross-entropy",
		"seed":                                   r.cfg.seed,
		"epochs":                                 r.cfg.epochs,
		"runs":                                   r.cfg.runs,
		"train_images":                           r.trainImages,
		"test_images":                            r.testImages,
		"train_images_per_second":                median(r.train32),
		"train_images_per_second_runs":           r.train32,
		"train_images_per_second_batch64":        median(r.train64),
		"train_images_per_second_batch64_runs":   r.train64,
		"train_accuracy":                         r.trainAccuracy,
		"inference_batch_size":                   inferenceBatch,
		"inference_images_per_second":            median(r.infer),
		"inference_images_per_second_runs":       r.infer,
		"predict_batch":                          parallelBatch,
		"predict_images_per_second_1_goroutine":  median(r.parallel[0]),
		"predict_images_per_second_2_goroutines": median(r.parallel[1]),
		"predict_parallel_speedup":               median(r.parallel[1]) / median(r.parallel[0]),
		"latency_batch1_seconds":                 median(r.latency),
		"latency_batch1_p10_seconds":             quantile(r.latency, 0.1),
		"latency_batch1_p90_seconds":             quantile(r.latency, 0.9),
		"latency_batch1_calls":                   len(r.latency),
		"allocs_per_step":                        r.allocsPerStep,
		"bytes_per_step":                         r.bytesPerStep,
		"alloc_steps":                            allocSteps,
		"step_seconds":                           r.stepSeconds,
		"first_step_seconds":                     r.firstStepSeconds,
		"peak_rss_bytes":                         r.peakRSS,
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
	row(fmt.Sprintf("predict images/s, batch %d, 1 goroutine", parallelBatch), fmt.Sprintf("%.1f", median(r.parallel[0])), r.parallel[0])
	row(fmt.Sprintf("predict images/s, batch %d, 2 goroutines", parallelBatch), fmt.Sprintf("%.1f", median(r.parallel[1])), r.parallel[1])
	row("parallel predict speedup", fmt.Sprintf("%.2f", median(r.parallel[1])/median(r.parallel[0])), nil)
	fmt.Fprintf(tw, "latency, batch 1\t%.3f ms\tp10 %.3f ms, p90 %.3f ms, %d calls\n",
		median(r.latency)*1e3, quantile(r.latency, 0.1)*1e3, quantile(r.latency, 0.9)*1e3, len(r.latency))
	fmt.Fprintf(tw, "allocations per step, batch 32\t%.0f\n", r.allocsPerStep)
	fmt.Fprintf(tw, "bytes per step, batch 32\t%.0f\n", r.bytesPerStep)
	fmt.Fprintf(tw, "steady step, batch 32\t%.1f ms\tfirst step of a fresh trainer %.0f ms (graph building included)\n", r.stepSeconds*1e3, r.firstStepSeconds*1e3)
	fmt.Fprintf(tw, "peak RSS\t%.1f MB\n", float64(r.peakRSS)/1e6)
	tw.Flush()
}

func (r *baseBenchResult) report() map[string]any {
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
		"arch":     r.cfg.arch,
		"model":    r.model + ", random weights (seed), forward only",
		"seed":     r.cfg.seed,
		"runs":     r.cfg.runs,
		"seconds":  r.cfg.seconds,
		"sizes":    sizes,
		"winograd": r.winograd,
	}
	addBenchEnv(v, r.blas, r.gomaxprocs, r.numCPU)
	if r.cfg.peer != "" || r.cfg.peerORT != "" {
		v["peer_script"] = r.cfg.peer + r.cfg.peerORT
		v["peer_framework"] = r.peerFramework
		v["peer_threads"] = r.gomaxprocs
	}
	return v
}

func printBaseTable(w io.Writer, r *baseBenchResult) {
	conv := "im2col"
	if r.winograd {
		conv = "Winograd F(4x4,3x3) for wide 3x3 layers, F(2x2,3x3) for the others"
	}
	fmt.Fprintf(w, "capa bench --arch %s: %s, forward, random weights; %d run(s) of %g s; GOMAXPROCS %d, %s, BLAS %s, convolution %s\n",
		r.cfg.arch, r.model, r.cfg.runs, r.cfg.seconds, r.gomaxprocs, runtime.Version(), r.blas, conv)
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
		peer := "pytorch"
		if r.cfg.peerORT != "" {
			peer = "onnxruntime"
		}
		if len(sz.peer) > 0 {
			row(name+": "+peer+" images/s", fmt.Sprintf("%.2f", median(sz.peer)), sz.peer)
			row(name+": ratio capa/"+peer, fmt.Sprintf("%.3f", median(sz.capa)/median(sz.peer)), nil)
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
