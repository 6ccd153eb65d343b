package serve_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/serve"
)

func predictOne(t *testing.T, url string) ([]float32, string) {
	t.Helper()
	resp, err := http.Post(url+"/v2/models/m/infer", "application/json", strings.NewReader(mustJSON(map[string]any{
		"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 6, 6, 1}, "datatype": "FP32", "data": sample(5)}}})))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ModelVersion string `json:"model_version"`
		Outputs      []struct{ Data []float32 }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	return out.Outputs[0].Data, out.ModelVersion
}

func want(t *testing.T, m *graph.Model) []float32 {
	y, err := m.Predict(sample(5), 1)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// TestVersions serves a directory of numbered versions: a new one is
// served after Reload, a broken one is refused and the old one keeps
// serving.
func TestVersions(t *testing.T) {
	dir := t.TempDir()
	m1, m2 := smallModel(t, 1), smallModel(t, 2)
	saveModel(t, m1, filepath.Join(dir, "1", "model.safetensors"))
	s := serve.New(serve.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.Add("m", dir); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	defer s.Close()
	if y, v := predictOne(t, ts.URL); v != "1" || !slices.Equal(y, want(t, m1)) {
		t.Fatalf("version %s: %v", v, y)
	}
	saveModel(t, m2, filepath.Join(dir, "2", "model.safetensors"))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if y, v := predictOne(t, ts.URL); v != "2" || !slices.Equal(y, want(t, m2)) {
		t.Fatalf("after the reload, version %s: %v", v, y)
	}
	// A version 3 whose file is truncated is refused; 2 stays.
	b, _ := os.ReadFile(filepath.Join(dir, "2", "model.safetensors"))
	os.MkdirAll(filepath.Join(dir, "3"), 0o755)
	os.WriteFile(filepath.Join(dir, "3", "model.safetensors"), b[:len(b)/2], 0o644)
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "3/model.safetensors") {
		t.Errorf("a truncated version: %v", err)
	}
	if _, v := predictOne(t, ts.URL); v != "2" {
		t.Errorf("after a failed reload, version %s serves", v)
	}
	code, out := get(t, ts.URL+"/v1/models/m/versions/2")
	if code != 200 || !strings.Contains(mustJSON(out), `"version":"2"`) {
		t.Errorf("status: %d %v", code, out)
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{`capa_serve_reloads_total{model="m",result="error"} 1`, `capa_serve_reloads_total{model="m",result="ok"} 1`, `capa_serve_model_version{model="m"} 2`} {
		if !strings.Contains(string(mb), w) {
			t.Errorf("metrics lack %q", w)
		}
	}
}

// TestReloadUnderLoad replaces the model file (atomically, as Save writes
// it) ten times while 8 clients send requests: no request fails, and each
// answer is one of the versions'.
func TestReloadUnderLoad(t *testing.T) {
	s, ts, m1 := newServer(t, serve.Options{})
	path := filepath.Join(t.TempDir(), "r.safetensors")
	saveModel(t, m1, path)
	if err := s.Add("r", path); err != nil {
		t.Fatal(err)
	}
	models := []*graph.Model{m1, smallModel(t, 2)}
	answers := [][]float32{want(t, models[0]), want(t, models[1])}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failed, done atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := http.Post(ts.URL+"/v1/models/r:predict", "application/json", strings.NewReader(mustJSON(map[string]any{"instances": []any{nested(sample(5))}})))
				if err != nil {
					failed.Add(1)
					continue
				}
				var out struct{ Predictions [][]float32 }
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(out.Predictions) != 1 ||
					!slices.Equal(out.Predictions[0], answers[0]) && !slices.Equal(out.Predictions[0], answers[1]) {
					failed.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	for i := range 10 {
		saveModel(t, models[(i+1)%2], path)
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if failed.Load() > 0 || done.Load() == 0 {
		t.Errorf("%d of %d requests failed during the reloads", failed.Load(), done.Load())
	}
	code, out := get(t, ts.URL+"/v1/models/r")
	if code != 200 || !strings.Contains(mustJSON(out), `"version":"11"`) {
		t.Errorf("after 10 reloads: %d %v", code, out)
	}
}
