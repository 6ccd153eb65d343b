package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/serve"
	"github.com/capa-ml/capa/train"
)

// smallModel is a CNN on 6x6 grayscale images with 3 classes, seeded.
func smallModel(t testing.TB, seed uint64) *graph.Model {
	t.Helper()
	m, err := graph.SequentialSeed(seed, graph.Input(6, 6, 1),
		&graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	// Compiled, as capa train saves it: Extra is kept with the training
	// configuration.
	if err := m.Compile(train.NewAdam(), train.SparseCategoricalCrossentropy{}); err != nil {
		t.Fatal(err)
	}
	m.Extra = map[string]string{"class_names": `["cat","dog","bird"]`}
	return m
}

func saveModel(t testing.TB, m *graph.Model, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
}

// newServer serves smallModel(1) as "m" from a file; it returns the
// server, its test HTTP server and the model.
func newServer(t testing.TB, opts serve.Options) (*serve.Server, *httptest.Server, *graph.Model) {
	t.Helper()
	m := smallModel(t, 1)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	saveModel(t, m, path)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := serve.New(opts)
	if err := s.Add("m", path); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts, m
}

func sample(k int) []float32 {
	x := make([]float32, 36)
	for i := range x {
		x[i] = float32((i*7+k*3)%11) / 11
	}
	return x
}

func nested(x []float32) [][][]float32 {
	out := make([][][]float32, 6)
	for i := range out {
		out[i] = make([][]float32, 6)
		for j := range out[i] {
			out[i][j] = []float32{x[i*6+j]}
		}
	}
	return out
}

func post(t testing.TB, url, body string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", resp.StatusCode, err, b)
	}
	return resp.StatusCode, out, resp.Header
}

func get(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", resp.StatusCode, err, b)
	}
	return resp.StatusCode, out
}

func floats(v any) []float32 {
	var out []float32
	var rec func(any)
	rec = func(v any) {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				rec(e)
			}
		case float64:
			out = append(out, float32(t))
		}
	}
	rec(v)
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestTFServingPredict sends TensorFlow Serving's request forms, as its
// clients write them: the answers are the model's Predict.
func TestTFServingPredict(t *testing.T) {
	_, ts, m := newServer(t, serve.Options{})
	x := append(sample(0), sample(1)...)
	want, err := m.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		body string
		key  string
	}{
		"instances":       {mustJSON(map[string]any{"instances": []any{nested(sample(0)), nested(sample(1))}}), "predictions"},
		"named instances": {mustJSON(map[string]any{"signature_name": "serving_default", "instances": []any{map[string]any{"input_layer": nested(sample(0))}, map[string]any{"input_layer": nested(sample(1))}}}), "predictions"},
		"inputs":          {mustJSON(map[string]any{"inputs": []any{nested(sample(0)), nested(sample(1))}}), "outputs"},
		"named inputs":    {mustJSON(map[string]any{"inputs": map[string]any{"input_layer": []any{nested(sample(0)), nested(sample(1))}}}), "outputs"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, _ := post(t, ts.URL+"/v1/models/m:predict", c.body)
			if code != 200 {
				t.Fatalf("status %d: %v", code, out)
			}
			got := floats(out[c.key])
			if len(out[c.key].([]any)) != 2 || !slices.Equal(got, want) {
				t.Errorf("%s = %v, want %v", c.key, out[c.key], want)
			}
		})
	}
	for _, path := range []string{"/v1/models/m", "/v1/models/m/versions/1"} {
		code, out := get(t, ts.URL+path)
		if code != 200 || !strings.Contains(mustJSON(out), `"state":"AVAILABLE"`) || !strings.Contains(mustJSON(out), `"version":"1"`) {
			t.Errorf("%s: %d %v", path, code, out)
		}
	}
	code, out := get(t, ts.URL+"/v1/models/m/metadata")
	if s := mustJSON(out); code != 200 || !strings.Contains(s, `"serving_default"`) || !strings.Contains(s, `{"name":"","size":"6"}`) {
		t.Errorf("metadata: %d %s", code, s)
	}
}

// TestKServe checks the v2 protocol: health, metadata, FP32 and UINT8
// inference.
func TestKServe(t *testing.T) {
	_, ts, m := newServer(t, serve.Options{})
	for _, p := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/m/ready", "/v2"} {
		if code, out := get(t, ts.URL+p); code != 200 {
			t.Errorf("%s: %d %v", p, code, out)
		}
	}
	code, out := get(t, ts.URL+"/v2/models/m")
	if s := mustJSON(out); code != 200 || !strings.Contains(s, `"shape":[-1,6,6,1]`) || !strings.Contains(s, `"datatype":"FP32"`) {
		t.Errorf("metadata: %d %s", code, s)
	}
	x := append(sample(2), sample(3)...)
	want, _ := m.Predict(x, 2)
	body := mustJSON(map[string]any{"id": "req-1", "inputs": []any{map[string]any{"name": "input_layer", "shape": []int{2, 6, 6, 1}, "datatype": "FP32", "data": x}}})
	code, out, _ = post(t, ts.URL+"/v2/models/m/infer", body)
	if code != 200 || out["id"] != "req-1" || out["model_version"] != "1" {
		t.Fatalf("infer: %d %v", code, out)
	}
	o := out["outputs"].([]any)[0].(map[string]any)
	if got := floats(o["data"]); !slices.Equal(got, want) || mustJSON(o["shape"]) != "[2,3]" {
		t.Errorf("outputs %v, want %v", o, want)
	}
	// UINT8 pixels are scaled to [0, 1].
	px := make([]int, 36)
	xs := make([]float32, 36)
	for i := range px {
		px[i] = (i * 37) % 256
		xs[i] = float32(px[i]) / 255
	}
	want, _ = m.Predict(xs, 1)
	body = mustJSON(map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 6, 6, 1}, "datatype": "UINT8", "data": px}}})
	code, out, _ = post(t, ts.URL+"/v2/models/m/versions/1/infer", body)
	if code != 200 {
		t.Fatalf("UINT8: %d %v", code, out)
	}
	if got := floats(out["outputs"].([]any)[0].(map[string]any)["data"]); !slices.Equal(got, want) {
		t.Errorf("UINT8 outputs %v, want %v", got, want)
	}
}

func pngBytes(t testing.TB, w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestClassify posts a PNG: the top classes with the names saved with the
// model, probabilities in order.
func TestClassify(t *testing.T) {
	_, ts, _ := newServer(t, serve.Options{})
	resp, err := http.Post(ts.URL+"/v1/models/m:classify?top=2", "image/png", bytes.NewReader(pngBytes(t, 12, 12)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Classes []struct {
			Index       int
			Name        string
			Probability float64
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if len(out.Classes) != 2 || out.Classes[0].Probability < out.Classes[1].Probability ||
		!slices.Contains([]string{"cat", "dog", "bird"}, out.Classes[0].Name) {
		t.Errorf("classes %+v", out.Classes)
	}
}

// TestBatching sends 64 concurrent requests: each gets its own outputs
// (whether they were batched depends on how fast they arrive: see
// TestBatcher for the batching itself), and the metrics count them.
func TestBatching(t *testing.T) {
	_, ts, m := newServer(t, serve.Options{MaxBatch: 16, MaxWait: 20 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	bodies := make([]string, 64)
	for k := range bodies {
		bodies[k] = mustJSON(map[string]any{"instances": []any{nested(sample(k))}})
	}
	start := make(chan struct{})
	for k := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want, _ := m.Predict(sample(k), 1)
			<-start
			resp, err := http.Post(ts.URL+"/v1/models/m:predict", "application/json", strings.NewReader(bodies[k]))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var out struct{ Predictions [][]float32 }
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
				errs <- fmt.Errorf("request %d: %d %v", k, resp.StatusCode, err)
				return
			}
			if !slices.Equal(out.Predictions[0], want) {
				errs <- fmt.Errorf("request %d got %v, want %v", k, out.Predictions[0], want)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(b)
	for _, want := range []string{`capa_serve_requests_total{api="tfserving",code="200",model="m"} 64`, `capa_serve_batch_size_count{model="m"}`, "capa_serve_queue_depth 0", "capa_serve_request_duration_seconds_bucket"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
