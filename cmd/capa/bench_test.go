package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/fulltest"
)

func TestBenchPeerOutputParse(t *testing.T) {
	out := `/usr/lib/python3/dist-packages/torch/__init__.py:1: UserWarning: something
{"epoch": 1, "train_seconds": 12.5, "train_images_per_second": 400.0, "test_accuracy": 0.81, "inference_images_per_second": 5000.0}
not json {"epoch": 9}
{"epoch": 2, "train_seconds": 6.25, "train_images_per_second": 800.0, "test_accuracy": 0.84, "inference_images_per_second": 20000.0}
{"unrelated": true}
{"summary": true, "framework": "pytorch 1.13.0a0", "threads": 2, "batch_size": 32, "median_train_images_per_second": 800.0, "best_test_accuracy": 0.84}
`
	p, err := parsePeerOutput(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Epochs) != 2 || p.Epochs[1].Epoch != 2 || p.Epochs[0].TrainRate != 400 || p.Epochs[1].InferRate != 20000 {
		t.Errorf("epochs = %+v", p.Epochs)
	}
	if p.Framework != "pytorch 1.13.0a0" || p.Threads != 2 {
		t.Errorf("summary: framework %q, threads %d", p.Framework, p.Threads)
	}
	// Two equal-sized epochs at 400 and 800 images/s: 2 / (1/400 + 1/800).
	if got, want := p.trainRate(), 1600.0/3; math.Abs(got-want) > 1e-9 {
		t.Errorf("train rate %v, want %v", got, want)
	}
	if got, want := p.inferenceRate(), 8000.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("inference rate %v, want %v", got, want)
	}

	for _, bad := range []string{
		"",
		"Traceback (most recent call last):\n  File x\nRuntimeError: boom\n",
		`{"summary": true, "framework": "pytorch"}`,
		`{"epoch": 1, "train_images_per_second": 0, "inference_images_per_second": 10}`,
		`{"epoch": 1, "train_images_per_second": "fast", "inference_images_per_second": 10}`,
	} {
		if p, err := parsePeerOutput(strings.NewReader(bad)); err == nil {
			t.Errorf("parsePeerOutput(%q) = %+v, want an error", bad, p)
		}
	}
}

func TestBenchMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	xs := []float64{3, 1, 2}
	median(xs)
	if xs[0] != 3 {
		t.Errorf("median sorted its argument")
	}
}

var benchKeys = []string{
	"train_images_per_second", "train_images_per_second_runs",
	"train_images_per_second_batch64", "train_images_per_second_batch64_runs",
	"inference_images_per_second", "inference_images_per_second_runs",
	"latency_batch1_seconds", "latency_batch1_p10_seconds", "latency_batch1_p90_seconds",
	"allocs_per_step", "bytes_per_step", "step_seconds", "first_step_seconds", "peak_rss_bytes",
	"blas", "gomaxprocs", "num_cpu", "go_version", "epochs", "runs", "seed", "train_images", "test_images",
}

var peerKeys = []string{
	"peer_train_images_per_second", "peer_train_images_per_second_runs",
	"peer_inference_images_per_second", "peer_inference_images_per_second_runs",
	"train_ratio", "inference_ratio", "peer_framework", "peer_threads",
}

func positive(t *testing.T, r map[string]any, key string) float64 {
	t.Helper()
	v, ok := r[key].(float64)
	if !ok || !(v > 0) {
		t.Errorf("report %s = %v, want a positive number", key, r[key])
	}
	return v
}

func TestBench(t *testing.T) {
	needData(t)
	rep := filepath.Join(t.TempDir(), "bench.json")
	out := run(t, "bench", "--limit", "640", "--test-limit", "1000", "--runs", "1", "--report", rep)
	for _, want := range []string{"train images/s, batch 32", "inference images/s, batch 1000", "predict images/s, batch 32, 2 goroutines", "latency, batch 1", "peak RSS"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
	r := readJSON(t, rep)
	for _, k := range benchKeys {
		if _, ok := r[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	for _, k := range peerKeys {
		if _, ok := r[k]; ok {
			t.Errorf("report without --peer has %q", k)
		}
	}
	for _, k := range []string{"train_images_per_second", "train_images_per_second_batch64", "inference_images_per_second",
		"latency_batch1_seconds", "allocs_per_step", "bytes_per_step", "peak_rss_bytes",
		"predict_images_per_second_1_goroutine", "predict_images_per_second_2_goroutines", "predict_parallel_speedup"} {
		positive(t, r, k)
	}
	if r["train_images"] != 640.0 || r["test_images"] != 1000.0 || r["runs"] != 1.0 || r["gomaxprocs"] != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("report train_images %v, test_images %v, runs %v, gomaxprocs %v", r["train_images"], r["test_images"], r["runs"], r["gomaxprocs"])
	}
	if s, _ := r["blas"].(string); s == "" || s == "unknown" {
		t.Errorf("report blas = %v", r["blas"])
	}
	if runs := r["train_images_per_second_runs"].([]any); len(runs) != 1 || runs[0] != r["train_images_per_second"] {
		t.Errorf("train runs %v, median %v", runs, r["train_images_per_second"])
	}
}

// A fake peer (a shell script printing canned JSON, different at each run)
// checks the alternation, the arguments, the medians and the ratios
// without PyTorch.
func TestBenchFakePeer(t *testing.T) {
	needData(t)
	dir := t.TempDir()
	logf := filepath.Join(dir, "peer.log")
	script := filepath.Join(dir, "peer.sh")
	os.WriteFile(script, []byte(fmt.Sprintf(`n=$(wc -l < %[1]q 2>/dev/null || echo 0)
echo "$*" >> %[1]q
echo "peer run $((n+1))" >&2
echo "some warning"
case $n in
0) tr=100; inf=1000;;
1) tr=300; inf=3000;;
*) tr=200; inf=4000;;
esac
echo "{\"epoch\": 1, \"train_seconds\": 1.0, \"train_images_per_second\": $tr, \"test_accuracy\": 0.5, \"inference_images_per_second\": $inf}"
echo '{"summary": true, "framework": "fake 0.1", "threads": 7}'
`, logf)), 0o644)
	rep := filepath.Join(dir, "bench.json")
	cmd := exec.Command(capaBin, "bench", "--limit", "320", "--test-limit", "100", "--runs", "1",
		"--peer", script, "--python", "/bin/sh", "--report", rep)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("capa bench --peer: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}

	// --runs 1 is raised to 3 with --peer, and Capa's batch-32 runs
	// alternate with the peer's, each parsed as it ends.
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^(capa|pytorch) +run (\d)/3: batch 32`).FindAllStringSubmatch(stderr.String(), -1) {
		order = append(order, m[1]+m[2])
	}
	if got, want := strings.Join(order, " "), "pytorch1 capa1 pytorch2 capa2 pytorch3 capa3"; got != want {
		t.Errorf("run order %q, want %q\n%s", got, want, stderr.String())
	}
	b, _ := os.ReadFile(logf)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	wantArgs := fmt.Sprintf("--epochs 1 --batch-size 32 --threads %d --limit 320", runtime.GOMAXPROCS(0))
	if len(lines) != 3 || lines[0] != wantArgs {
		t.Errorf("peer calls:\n%s\nwant 3 times %q", b, wantArgs)
	}

	r := readJSON(t, rep)
	for _, k := range append(benchKeys, peerKeys...) {
		if _, ok := r[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if r["peer_train_images_per_second"] != 200.0 || r["peer_inference_images_per_second"] != 3000.0 {
		t.Errorf("peer medians %v, %v; want 200, 3000", r["peer_train_images_per_second"], r["peer_inference_images_per_second"])
	}
	if runs := r["peer_train_images_per_second_runs"].([]any); fmt.Sprint(runs) != "[100 300 200]" {
		t.Errorf("peer train runs %v", runs)
	}
	if r["peer_framework"] != "fake 0.1" || r["runs"] != 3.0 || len(r["train_images_per_second_runs"].([]any)) != 3 {
		t.Errorf("peer_framework %v, runs %v, capa runs %v", r["peer_framework"], r["runs"], r["train_images_per_second_runs"])
	}
	capaTrain, capaInf := positive(t, r, "train_images_per_second"), positive(t, r, "inference_images_per_second")
	if got := positive(t, r, "train_ratio"); math.Abs(got-capaTrain/200) > 1e-9*got {
		t.Errorf("train_ratio %v, want %v/200", got, capaTrain)
	}
	if got := positive(t, r, "inference_ratio"); math.Abs(got-capaInf/3000) > 1e-9*got {
		t.Errorf("inference_ratio %v, want %v/3000", got, capaInf)
	}
	for _, want := range []string{"pytorch train images/s, batch 32", "train ratio capa/pytorch"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}

	// A failing peer is an error that shows the peer's own message, before
	// any Capa run.
	bad := filepath.Join(dir, "bad.sh")
	os.WriteFile(bad, []byte("echo 'ModuleNotFoundError: torch' >&2; exit 1\n"), 0o644)
	out, err := exec.Command(capaBin, "bench", "--limit", "320", "--peer", bad, "--python", "/bin/sh").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ModuleNotFoundError: torch") {
		t.Errorf("failing peer: err %v\n%s", err, out)
	}
}

func TestBenchVGGPeerOutputParse(t *testing.T) {
	out := `/usr/lib/python3/dist-packages/torch/__init__.py:1: UserWarning: something
{"size": 32, "batch_size": 64, "images_per_second": 231.5, "framework": "pytorch 1.13.0a0"}
not json {"size": 9}
{"size": 224, "batch_size": 1, "images_per_second": 4.8, "framework": "pytorch 1.13.0a0"}
`
	rates, fw, err := parseBasePeerOutput(strings.NewReader(out), []int{224, 32})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rates) != "[4.8 231.5]" || fw != "pytorch 1.13.0a0" {
		t.Errorf("rates %v, framework %q", rates, fw)
	}
	for _, bad := range []string{
		"",
		`{"size": 32, "images_per_second": 10}`, // no 224
		`{"size": 32, "images_per_second": 0}` + "\n" + `{"size": 224, "images_per_second": 1}`,
		"Traceback (most recent call last):\nRuntimeError: boom\n",
	} {
		if r, _, err := parseBasePeerOutput(strings.NewReader(bad), []int{32, 224}); err == nil {
			t.Errorf("parseBasePeerOutput(%q) = %v, want an error", bad, r)
		}
	}
}

func TestBenchVGGSizes(t *testing.T) {
	if s, err := parseSizes(" 32, 224,64"); err != nil || fmt.Sprint(s) != "[32 224 64]" {
		t.Errorf("parseSizes = %v, %v", s, err)
	}
	for _, bad := range []string{"", "16", "32,x", "32,32"} {
		if s, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) = %v, want an error", bad, s)
		}
	}
	for hw, want := range map[int]int{32: 64, 64: 16, 150: 2, 224: 1, 1000: 1} {
		if got := baseBatch(hw); got != want {
			t.Errorf("baseBatch(%d) = %d, want %d (the peer's)", hw, got, want)
		}
	}
	out := run(t, "bench", "-h")
	for _, want := range []string{"--vgg", "--arch", "torch_apps_bench.py", "torch_vgg16_features.py", "-im2col", "-sizes", "-seconds"} {
		if !strings.Contains(out, want) {
			t.Errorf("capa bench -h lacks %q:\n%s", want, out)
		}
	}
}

// A fake VGG peer (a shell script printing canned JSON, different at each
// run) checks the alternation, the arguments, the medians and the ratios
// without PyTorch, on VGG16's base at 32x32 with short measurements.
func TestBenchVGGFakePeer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds VGG16 and runs it 8 times")
	}
	dir := t.TempDir()
	logf := filepath.Join(dir, "peer.log")
	script := filepath.Join(dir, "peer.sh")
	os.WriteFile(script, []byte(fmt.Sprintf(`n=$(wc -l < %[1]q 2>/dev/null || echo 0)
echo "$*" >> %[1]q
echo "some warning"
case $n in
0) r=100;;
1) r=300;;
*) r=200;;
esac
echo "{\"size\": 32, \"batch_size\": 64, \"images_per_second\": $r, \"framework\": \"fake 0.2\"}"
`, logf)), 0o644)
	rep := filepath.Join(dir, "bench.json")
	cmd := exec.Command(capaBin, "bench", "--vgg", "--sizes", "32", "--seconds", "0.05", "--runs", "3", "--im2col",
		"--peer", script, "--python", "/bin/sh", "--report", rep)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("capa bench --vgg --peer: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^(capa|capa im2col|pytorch) +run (\d)/3: 32x32 batch 64`).FindAllStringSubmatch(stderr.String(), -1) {
		order = append(order, strings.ReplaceAll(m[1], " ", "-")+m[2])
	}
	if got, want := strings.Join(order, " "), "pytorch1 capa1 capa-im2col1 pytorch2 capa2 capa-im2col2 pytorch3 capa3 capa-im2col3"; got != want {
		t.Errorf("run order %q, want %q\n%s", got, want, stderr.String())
	}
	b, _ := os.ReadFile(logf)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	wantArgs := fmt.Sprintf("--threads %d --sizes 32 --seconds 0.05", runtime.GOMAXPROCS(0))
	if len(lines) != 3 || lines[0] != wantArgs {
		t.Errorf("peer calls:\n%s\nwant 3 times %q", b, wantArgs)
	}

	r := readJSON(t, rep)
	if r["peer_framework"] != "fake 0.2" || r["runs"] != 3.0 || r["winograd"] != true || r["gomaxprocs"] != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("report: peer_framework %v, runs %v, winograd %v, gomaxprocs %v", r["peer_framework"], r["runs"], r["winograd"], r["gomaxprocs"])
	}
	sizes, _ := r["sizes"].([]any)
	if len(sizes) != 1 {
		t.Fatalf("report sizes = %v", r["sizes"])
	}
	s := sizes[0].(map[string]any)
	if s["size"] != 32.0 || s["batch_size"] != 64.0 || s["peer_images_per_second"] != 200.0 || fmt.Sprint(s["peer_images_per_second_runs"]) != "[100 300 200]" {
		t.Errorf("report size entry %v", s)
	}
	capaRate, im2col := positive(t, s, "images_per_second"), positive(t, s, "im2col_images_per_second")
	if got := positive(t, s, "ratio"); math.Abs(got-capaRate/200) > 1e-9*got {
		t.Errorf("ratio %v, want %v/200", got, capaRate)
	}
	if got := positive(t, s, "winograd_speedup"); math.Abs(got-capaRate/im2col) > 1e-9*got {
		t.Errorf("winograd_speedup %v, want %v/%v", got, capaRate, im2col)
	}
	for _, want := range []string{"32x32 batch 64: capa images/s", "32x32 batch 64: pytorch images/s", "ratio capa/pytorch", "winograd speedup"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}

	// Another family: the peer is told which network (--net), the table
	// and the report say which was measured.
	os.Remove(logf)
	rep2 := filepath.Join(dir, "bench2.json")
	out, err := exec.Command(capaBin, "bench", "--arch", "resnet18", "--sizes", "32", "--seconds", "0.05", "--runs", "1",
		"--peer", script, "--python", "/bin/sh", "--report", rep2).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "resnet18 base (torchvision's architecture") {
		t.Errorf("capa bench --arch resnet18: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(logf); strings.TrimSpace(string(b)) != wantArgs+" --net resnet18" {
		t.Errorf("peer called with %q, want %q", b, wantArgs+" --net resnet18")
	}
	if r := readJSON(t, rep2); r["arch"] != "resnet18" {
		t.Errorf("report arch %v, want resnet18", r["arch"])
	}
	for _, args := range [][]string{{"--arch", "resnet99"}, {"--vgg", "--arch", "resnet50"}, {"--arch", "resnet18", "--source", "caffe"}} {
		out, err := exec.Command(capaBin, append([]string{"bench", "--sizes", "32", "--runs", "1"}, args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), args[len(args)-1]) {
			t.Errorf("capa bench %v: err %v, want an error naming %q\n%s", args, err, args[len(args)-1], out)
		}
	}

	// A failing peer is an error that shows the peer's own message.
	bad := filepath.Join(dir, "bad.sh")
	os.WriteFile(bad, []byte("echo 'ModuleNotFoundError: torchvision' >&2; exit 1\n"), 0o644)
	out, err = exec.Command(capaBin, "bench", "--vgg", "--sizes", "32", "--seconds", "0.05", "--runs", "1", "--peer", bad, "--python", "/bin/sh").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ModuleNotFoundError: torchvision") {
		t.Errorf("failing peer: err %v\n%s", err, out)
	}
}

// TestBenchFakeORTPeer runs capa bench --peer-ort with a stand-in for
// ort_bench.js (node): --runs is raised to 5, the runs alternate, the peer
// gets an ONNX file of the model and the thread count, and the ratios are
// those of the medians.
func TestBenchFakeORTPeer(t *testing.T) {
	needData(t)
	if _, err := exec.LookPath("node"); err != nil {
		fulltest.Missing(t, "no node: apt-get install nodejs")
	}
	dir := t.TempDir()
	logf := filepath.Join(dir, "peer.log")
	script := filepath.Join(dir, "ort_bench.js")
	os.WriteFile(script, []byte(fmt.Sprintf(`const fs = require('fs');
const args = process.argv.slice(2);
const model = fs.readFileSync(args[args.indexOf('--model') + 1]);
fs.appendFileSync(%q, args.join(' ').replace(/\S*practical.onnx/, 'F') + ' ' + (model.length > 1000) + '\n');
const n = fs.readFileSync(%[1]q, 'utf8').trim().split('\n').length;
console.log(JSON.stringify({framework: 'fake ort', threads: 2, batch_size: 1000,
  inference_images_per_second: [0, 100, 500, 300, 200, 400][n], batch1_latency_ms: [0, 1, 5, 3, 2, 4][n]}));
`, logf)), 0o644)
	rep := filepath.Join(dir, "bench.json")
	cmd := exec.Command(capaBin, "bench", "--test-limit", "1000", "--runs", "1", "--peer-ort", script, "--report", rep)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("capa bench --peer-ort: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^(capa|ort) +run (\d)/5: batch`).FindAllStringSubmatch(stderr.String(), -1) {
		order = append(order, m[1]+m[2])
	}
	if got, want := strings.Join(order, " "), "ort1 capa1 ort2 capa2 ort3 capa3 ort4 capa4 ort5 capa5"; got != want {
		t.Errorf("run order %q, want %q\n%s", got, want, stderr.String())
	}
	b, _ := os.ReadFile(logf)
	want := fmt.Sprintf("--model F --batch 1000 --threads %d true", runtime.GOMAXPROCS(0))
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 5 || lines[0] != want {
		t.Errorf("peer calls:\n%s\nwant 5 times %q", b, want)
	}
	r := readJSON(t, rep)
	rate := r["capa_inference_images_per_second"].([]any)
	if len(rate) != 5 || r["peer"] != "fake ort" {
		t.Fatalf("report: %v", r)
	}
	capaRates := make([]float64, 5)
	for i, v := range rate {
		capaRates[i] = v.(float64)
	}
	if got, want := r["inference_ratio"].(float64), median(capaRates)/300; math.Abs(got-want) > 1e-9*want {
		t.Errorf("inference_ratio %v, want %v", got, want)
	}
	if !strings.Contains(stdout.String(), "batch 1000, images/s") || !strings.Contains(stdout.String(), "onnxruntime") {
		t.Errorf("table:\n%s", stdout.String())
	}
	if err := exec.Command(capaBin, "bench", "--arch", "resnet18", "--peer-ort", script).Run(); err == nil {
		t.Error("--arch with --peer-ort accepted")
	}
}
