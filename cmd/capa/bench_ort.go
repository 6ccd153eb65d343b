package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/interchange"
)

// The ONNX Runtime peer (--peer-ort): the practical's CNN, with the bench
// model's very weights exported by Capa to ONNX, run by
// ../shared/peer/ort_bench.js (ONNX Runtime's CPU kernels, from npm) with
// GOMAXPROCS threads, alternating with Capa's inference and batch-1
// latency measurements, --runs times each.

// ortOutput is ort_bench.js's JSON line.
type ortOutput struct {
	Framework string  `json:"framework"`
	Threads   int     `json:"threads"`
	Batch     int     `json:"batch_size"`
	Rate      float64 `json:"inference_images_per_second"`
	LatencyMS float64 `json:"batch1_latency_ms"`
}

// ortResult is one --peer-ort comparison.
type ortResult struct {
	cfg                 benchConfig
	framework           string
	capaRate, ortRate   []float64
	capaLatMS, ortLatMS []float64
	blas                string
	gomaxprocs, numCPU  int
	batch, images       int
}

func (r *ortResult) report() map[string]any {
	v := map[string]any{
		"peer": r.framework, "peer_script": r.cfg.peerORT, "runs": r.cfg.runs,
		"batch_size": r.batch, "images": r.images,
		"capa_inference_images_per_second": r.capaRate, "peer_inference_images_per_second": r.ortRate,
		"capa_batch1_latency_ms": r.capaLatMS, "peer_batch1_latency_ms": r.ortLatMS,
		"inference_ratio":      median(r.capaRate) / median(r.ortRate),
		"batch1_latency_ratio": median(r.ortLatMS) / median(r.capaLatMS),
	}
	addBenchEnv(v, r.blas, r.gomaxprocs, r.numCPU)
	return v
}

func benchORT(c benchConfig, testSet *dataset.Set, logw io.Writer) (*ortResult, error) {
	m, err := newBenchModel(c.seed)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "capa-bench-ort-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	onnxPath := filepath.Join(dir, "practical.onnx")
	if err := interchange.ExportONNXFile(onnxPath, m, interchange.ONNXOptions{}); err != nil {
		return nil, err
	}
	r := &ortResult{cfg: c, blas: blasName(), gomaxprocs: runtime.GOMAXPROCS(0), numCPU: runtime.NumCPU(),
		batch: inferenceBatch, images: testSet.N}
	fmt.Fprintf(logw, "capa bench --peer-ort: the practical CNN (the same weights in Capa and, exported to ONNX, in ONNX Runtime), %d runs, GOMAXPROCS %d\n", c.runs, r.gomaxprocs)
	x := testSet.Images
	one := x[:m.InputShape().Size()]
	for i := 0; i < c.runs; i++ {
		o, err := runORT(c, onnxPath, inferenceBatch, r.gomaxprocs)
		if err != nil {
			return nil, err
		}
		r.framework = o.Framework
		r.ortRate, r.ortLatMS = append(r.ortRate, o.Rate), append(r.ortLatMS, o.LatencyMS)
		fmt.Fprintf(logw, "ort     run %d/%d: batch %d: %.1f images/s, batch 1: %.3f ms\n", i+1, c.runs, o.Batch, o.Rate, o.LatencyMS)
		rate, err := benchInference(m, x)
		if err != nil {
			return nil, err
		}
		lat, err := benchLatency(m, one)
		if err != nil {
			return nil, err
		}
		r.capaRate, r.capaLatMS = append(r.capaRate, rate), append(r.capaLatMS, median(lat)*1e3)
		fmt.Fprintf(logw, "capa    run %d/%d: batch %d: %.1f images/s, batch 1: %.3f ms\n", i+1, c.runs, inferenceBatch, rate, median(lat)*1e3)
	}
	return r, nil
}

// runORT runs ort_bench.js on the ONNX file with node, NODE_PATH from the
// environment or else the repository's scripts/node/node_modules (where
// the interchange tests' npm ci installs onnxruntime-node).
func runORT(c benchConfig, model string, batch, threads int) (ortOutput, error) {
	cmd := exec.Command("node", c.peerORT, "--model", model, "--batch", fmt.Sprint(batch), "--threads", fmt.Sprint(threads))
	cmd.Env = os.Environ()
	if os.Getenv("NODE_PATH") == "" {
		if abs, err := filepath.Abs(filepath.Join("scripts", "node", "node_modules")); err == nil {
			cmd.Env = append(cmd.Env, "NODE_PATH="+abs)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return ortOutput{}, fmt.Errorf("peer %s: %v\n%s(install it with: npm install --ignore-scripts --prefix scripts/node, or set NODE_PATH)", c.peerORT, err, stderr.String())
	}
	var o ortOutput
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &o); err != nil || o.Rate <= 0 || o.LatencyMS <= 0 {
		return ortOutput{}, fmt.Errorf("peer %s printed %q, not its JSON line (%v)", c.peerORT, stdout.String(), err)
	}
	return o, nil
}

func printORTTable(w io.Writer, r *ortResult) {
	fmt.Fprintf(w, "\n%-40s %12s %12s %8s\n", "practical CNN, inference", "capa", "onnxruntime", "ratio")
	fmt.Fprintf(w, "%-40s %12.0f %12.0f %7.2fx\n", fmt.Sprintf("batch %d, images/s", r.batch), median(r.capaRate), median(r.ortRate), median(r.capaRate)/median(r.ortRate))
	fmt.Fprintf(w, "%-40s %12.3f %12.3f %7.2fx\n", "batch 1 latency, ms (ratio: ort/capa)", median(r.capaLatMS), median(r.ortLatMS), median(r.ortLatMS)/median(r.capaLatMS))
	fmt.Fprintf(w, "medians of %d alternating runs; %s, %d threads; capa: %s\n", r.cfg.runs, r.framework, r.gomaxprocs, r.blas)
}

// ortArch names --arch's network for onnx_export.py, the peer's exporter
// beside ort_bench.js (torchvision's model, with its top: the classifier
// adds under 0.1% to ResNet50's arithmetic).
var ortArch = map[string]string{"vgg16": "vgg16_features", "resnet18": "resnet18", "resnet50": "resnet50", "mobilenet_v2": "mobilenet_v2"}

// exportORTPeer writes torchvision's --arch at hw x hw as ONNX with
// onnx_export.py (the ONNX peer's own exporter, run by --python), into dir.
func exportORTPeer(c benchConfig, dir string, hw int) (string, error) {
	arch, ok := ortArch[c.arch]
	if !ok || c.source != "torchvision" {
		return "", fmt.Errorf("--peer-ort with --arch: onnx_export.py exports torchvision's vgg16, resnet18, resnet50 and mobilenet_v2, not %s (%s)", c.arch, c.source)
	}
	out := filepath.Join(dir, fmt.Sprintf("%s-%d.onnx", arch, hw))
	script := filepath.Join(filepath.Dir(c.peerORT), "onnx_export.py")
	cmd := exec.Command(c.python, script, "--arch", arch, "--size", fmt.Sprint(hw), "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", script, err, b)
	}
	return out, nil
}
