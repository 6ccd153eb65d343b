//go:build unix

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"os/exec"

	"github.com/capa-ml/capa/graph"
)

// TestServeShutdown starts capa serve, sends requests that take a while,
// and sends SIGTERM while they run: each is answered 200, and the server
// exits 0 after logging that it stopped.
func TestServeShutdown(t *testing.T) {
	m, err := graph.SequentialSeed(1, graph.Input(32, 32, 3),
		&graph.Conv2D{Filters: 64, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.Conv2D{Filters: 64, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.GlobalAveragePooling2D{}, &graph.Dense{Units: 4, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(capaBin, "serve", "--model", "m="+path, "--addr", "127.0.0.1:0", "--poll", "0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	addr := ""
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`addr=(http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatalf("no address in the log:\n%s", log.String())
	}
	logDone := make(chan struct{})
	go func() {
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
		close(logDone)
	}()
	// 64 images per request.
	var body bytes.Buffer
	body.WriteString(`{"inputs": [`)
	for i := range 64 {
		if i > 0 {
			body.WriteString(",")
		}
		body.WriteString("[" + strings.Repeat("["+strings.Repeat("[0.5,0.25,1],", 31)+"[0,0,0]],", 31) + "[" + strings.Repeat("[0.5,0.25,1],", 31) + "[0,0,0]]]")
	}
	body.WriteString("]}")
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(addr+"/v1/models/m:predict", "application/json", bytes.NewReader(body.Bytes()))
			if err != nil {
				codes[i] = -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	// Long enough for the requests to arrive, short of their answers
	// (about a second of convolutions).
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	wg.Wait()
	err = cmd.Wait()
	<-logDone
	if fmt.Sprint(codes) != fmt.Sprint([]int{200, 200, 200, 200, 200, 200, 200, 200}) || err != nil || !strings.Contains(log.String(), "msg=stopped") {
		t.Errorf("answers %v, exit %v\n%s", codes, err, log.String())
	}
	if !strings.Contains(log.String(), "finishing the requests in flight") {
		t.Errorf("no shutdown in the log:\n%s", log.String())
	}
}
