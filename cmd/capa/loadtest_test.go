package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// TestLoadtest runs capa loadtest briefly, with a reload, on a model of the
// practical's input: every request answered 200, one reload per run.
func TestLoadtest(t *testing.T) {
	m, err := graph.SequentialSeed(1, graph.Input(28, 28, 1),
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{5, 5}, Activation: "relu"},
		&graph.Flatten{}, &graph.Dense{Units: 10, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(capaBin, "loadtest", "--model", path, "--clients", "1,8", "--duration", "400ms", "--reload").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := regexp.MustCompile(`(?m)^ +(\d+) +(\d+) +(\d+) +\d+ .* (\d+)$`).FindAllStringSubmatch(string(out), -1)
	if len(rows) != 2 || !strings.Contains(string(out), "of batched Predict") || !strings.Contains(string(out), "requests: ") {
		t.Fatalf("output:\n%s", out)
	}
	for _, r := range rows {
		if r[2] == "0" || r[3] != "0" || r[4] != "1" {
			t.Errorf("%s clients: %s requests, %s failed, %s reloads\n%s", r[1], r[2], r[3], r[4], out)
		}
	}
}

// TestRoundTrip reads answers with a length, chunked and closing the
// connection through the load test's HTTP reader.
func TestRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(503)
		default:
			w.Write([]byte(`{"predictions": []}`))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for _, c := range []struct {
		path string
		code int
		keep bool
	}{{"/", 200, true}, {"/chunked", 200, true}, {"/", 200, true}, {"/close", 503, false}} {
		code, keep, err := roundTrip(conn, r, httpPost(addr, c.path, []byte("{}")))
		if err != nil || code != c.code || keep != c.keep {
			t.Fatalf("%s: code %d, keep %v, %v; want %d, %v", c.path, code, keep, err, c.code, c.keep)
		}
	}
}
