package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/serve"
)

const loadtestUsage = `Usage: capa loadtest --model FILE [--clients 1,16,64] [--duration 5s] [--reload]

Serves the model on the loopback address, as capa serve does, and sends it
TensorFlow Serving predict requests of one image each from 1, 16 and 64
concurrent clients, each for --duration (or --requests per client): the
requests per second, the p50 and p99 latencies, the mean batch size and the
failures. --reload loads a new version in the middle of each run. The last
line compares the 64-client throughput with the model's batched Predict
throughput (batches of 1000, as capa bench measures inference).
`

func cmdLoadtest(args []string) error {
	fs := cli.NewFlagSet("capa loadtest", loadtestUsage)
	model := fs.String("model", "", "model file written by capa train or Save")
	clientsFlag := fs.String("clients", "1,16,64", "comma-separated numbers of concurrent clients")
	duration := fs.Duration("duration", 5*time.Second, "length of each run")
	requests := fs.Int("requests", 0, "stop each client after this many requests (0: only --duration)")
	reload := fs.Bool("reload", false, "load a new version of the model in the middle of each run")
	data := fs.String("data", "", "directory with the Fashion-MNIST files (as in capa train); without them, or for a model of other inputs, the requests carry random pixels")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (server and clients) to this file")
	sf := addServeFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *model == "" || fs.NArg() > 0 {
		return cli.Usagef("--model FILE is required, and no other arguments")
	}
	var clients []int
	for _, c := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 4096 {
			return cli.Usagef("--clients %q: want numbers between 1 and 4096", *clientsFlag)
		}
		clients = append(clients, n)
	}
	if *duration <= 0 {
		return cli.Usagef("--duration must be positive")
	}
	raw, err := os.ReadFile(*model)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "capa-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	version := 1
	put := func() error {
		d := filepath.Join(dir, strconv.Itoa(version))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(d, "model.safetensors"), raw, 0o644)
	}
	if err := put(); err != nil {
		return err
	}
	s := serve.New(sf.options(slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer s.Close()
	if err := s.Add("m", dir); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := serve.NewHTTPServer(ln.Addr().String(), s.Handler())
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	in, batched, err := loadtestModel(*model)
	if err != nil {
		return err
	}
	// Pre-encoded requests: the clients' own cost is not the server's.
	images, what := loadtestImages(in, *data)
	reqs := make([][]byte, len(images))
	size := 0
	for i, x := range images {
		reqs[i] = httpPost(ln.Addr().String(), "/v1/models/m:predict", tfBody(x, in))
		size += len(reqs[i])
	}
	fmt.Printf("model %s, input %v: batched Predict %.0f images/s\n", *model, in, batched)
	fmt.Printf("requests: %s, %.1f kB each on average\n", what, float64(size)/float64(len(reqs))/1e3)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("%8s %9s %7s %10s %9s %9s %11s %8s\n", "clients", "requests", "failed", "req/s", "p50 ms", "p99 ms", "mean batch", "reloads")
	var last float64
	for _, n := range clients {
		before, err := batchStats(base)
		if err != nil {
			return err
		}
		reloads := 0
		var stopReload chan struct{}
		var reloadDone sync.WaitGroup
		if *reload {
			stopReload = make(chan struct{})
			reloadDone.Add(1)
			go func() {
				defer reloadDone.Done()
				select {
				case <-time.After(*duration / 2):
				case <-stopReload:
					return
				}
				version++
				if err := put(); err == nil && s.Reload() == nil {
					reloads++
				}
			}()
		}
		st := runClients(ln.Addr().String(), reqs, n, *duration, *requests)
		if stopReload != nil {
			close(stopReload)
			reloadDone.Wait()
		}
		after, err := batchStats(base)
		if err != nil {
			return err
		}
		mean := 0.0
		if after[1] > before[1] {
			mean = (after[0] - before[0]) / (after[1] - before[1])
		}
		fmt.Printf("%8d %9d %7d %10.0f %9.3f %9.3f %11.1f %8d\n", n, st.n, st.failed, st.rate, st.p50*1e3, st.p99*1e3, mean, reloads)
		for code, k := range st.codes {
			if code != 200 {
				fmt.Printf("         %d answered %d\n", k, code)
			}
		}
		last = st.rate
	}
	fmt.Printf("throughput at %d clients: %.0f%% of batched Predict\n", clients[len(clients)-1], 100*last/batched)
	return nil
}

// tfBody is a TensorFlow Serving row-format request of one instance.
func tfBody(x []float32, shape []int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"instances": [`)
	var rec func(x []float32, shape []int)
	rec = func(x []float32, shape []int) {
		if len(shape) == 0 {
			b.WriteString(strconv.FormatFloat(float64(x[0]), 'g', 6, 32))
			return
		}
		step := len(x) / shape[0]
		b.WriteByte('[')
		for i := 0; i < shape[0]; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			rec(x[i*step:(i+1)*step], shape[1:])
		}
		b.WriteByte(']')
	}
	rec(x, shape)
	b.WriteString("]}")
	return b.Bytes()
}

type loadStats struct {
	n, failed int
	rate      float64
	p50, p99  float64
	codes     map[int]int
}

// loadtestImages returns 64 inputs for the model: Fashion-MNIST test
// images if the model takes 28x28x1 and the files are here (as clients
// send them: mostly zeros, the rest multiples of 1/255), random pixels
// otherwise, and what they are.
func loadtestImages(in graph.Shape, dir string) ([][]float32, string) {
	const n = 64
	var xs [][]float32
	what := "random pixels"
	if in.Equal(graph.Shape{28, 28, 1}) {
		if _, test, err := dataset.LoadFashionMNISTWith(dataset.FashionMNISTOptions{Dir: dir, NoDownload: true}); err == nil {
			for i := range n {
				xs = append(xs, test.Image(i))
			}
			what = "the first 64 Fashion-MNIST test images"
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for len(xs) < n {
		x := make([]float32, in.Size())
		for j := range x {
			x[j] = rng.Float32()
		}
		xs = append(xs, x)
	}
	return xs, what
}

// httpPost is the bytes of an HTTP/1.1 POST of a JSON body, sent as is.
func httpPost(host, path string, body []byte) []byte {
	h := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, host, len(body))
	return append([]byte(h), body...)
}

// runClients sends the requests from n clients for d (or max requests
// each). Each client is one keep-alive connection that writes a whole
// pre-encoded request in one write and reads the answer with a minimal
// HTTP/1.1 reader, as wrk does: net/http's client took 18% of the two
// cores' time in a profile, time the server then lacked.
func runClients(addr string, requests [][]byte, n int, d time.Duration, max int) loadStats {
	var mu sync.Mutex
	var lat []float64
	codes := map[int]int{}
	failed := 0
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			local := map[int]int{}
			bad := 0
			var conn net.Conn
			var r *bufio.Reader
			for k := 0; (max == 0 || k < max) && time.Now().Before(deadline); k++ {
				t0 := time.Now()
				if conn == nil {
					var err error
					if conn, err = net.Dial("tcp", addr); err != nil {
						bad++
						continue
					}
					r = bufio.NewReaderSize(conn, 16<<10)
				}
				conn.SetDeadline(t0.Add(time.Minute))
				code, keep, err := roundTrip(conn, r, requests[(c+k)%len(requests)])
				if err != nil || !keep {
					conn.Close()
					conn = nil
				}
				if err != nil {
					bad++
					continue
				}
				local[code]++
				if code != 200 {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0).Seconds())
			}
			if conn != nil {
				conn.Close()
			}
			mu.Lock()
			lat = append(lat, mine...)
			for k, v := range local {
				codes[k] += v
			}
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return loadStats{n: len(lat) + failed, failed: failed, rate: float64(len(lat)) / el, p50: q(0.5), p99: q(0.99), codes: codes}
}

// roundTrip writes one request and reads its answer: the status code and
// whether the connection stays open. The body is read by Content-Length or
// chunk by chunk, and dropped.
func roundTrip(conn net.Conn, r *bufio.Reader, req []byte) (code int, keep bool, err error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	if code, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	keep = true
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		h := bytes.TrimRight(line, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			sz, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
			n, err := strconv.ParseInt(string(sz), 16, 64)
			if err != nil {
				return 0, false, fmt.Errorf("bad chunk size %q", line)
			}
			if _, err := r.Discard(int(n) + 2); err != nil {
				return 0, false, err
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := r.Discard(length); err != nil {
			return 0, false, err
		}
	default:
		return code, false, fmt.Errorf("an answer without its length")
	}
	return code, keep, nil
}

// batchStats reads the batch size histogram's sum and count from /metrics.
func batchStats(base string) ([2]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return [2]float64{}, err
	}
	defer resp.Body.Close()
	var out [2]float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for i, name := range []string{"capa_serve_batch_size_sum", "capa_serve_batch_size_count"} {
			if strings.HasPrefix(line, name+"{") {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				out[i] = v
			}
		}
	}
	return out, sc.Err()
}

// loadtestModel loads the model and measures its batched Predict
// throughput (batches of 1000 for about 2 seconds after a warm-up).
func loadtestModel(path string) (graph.Shape, float64, error) {
	m, _, err := loadModel(path, 1<<28)
	if err != nil {
		return nil, 0, err
	}
	in := m.InputShape()
	const n = 1000
	x := make([]float32, n*in.Size())
	for i := range x {
		x[i] = float32(i%251) / 251
	}
	if _, err := m.Predict(x, n); err != nil {
		return nil, 0, err
	}
	images := 0
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		if _, err := m.Predict(x, n); err != nil {
			return nil, 0, err
		}
		images += n
	}
	return in, float64(images) / time.Since(start).Seconds(), nil
}
