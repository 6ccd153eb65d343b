package serve_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capa-ml/capa/serve"
)

// bombPNG is a PNG header declaring w×h pixels, with no pixel data: a
// decompression bomb's header.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit grayscale
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// TestBadInput sends each kind of bad request: every one is answered with
// its 4xx status and a JSON error naming the problem.
func TestBadInput(t *testing.T) {
	_, ts, _ := newServer(t, serve.Options{MaxBodyBytes: 1 << 20, MaxInstances: 8})
	one := mustJSON(nested(sample(0)))
	row := func(s string) string { return `{"instances": [` + s + `]}` }
	v2 := func(shape, dtype, data string) string {
		return `{"inputs": [{"name": "input_layer", "shape": ` + shape + `, "datatype": "` + dtype + `", "data": ` + data + `}]}`
	}
	flat := strings.Trim(mustJSON(sample(0)), "[]")
	huge := `{"instances": [` + strings.Repeat(one+",", 40000) + one + `]}`
	for _, c := range []struct {
		name, path, ctype string
		body              []byte
		code              int
		want              string
	}{
		{"malformed JSON", "/v1/models/m:predict", "", []byte(`{"instances": [[1, 2`), 400, "not JSON of TensorFlow Serving's predict API"},
		{"not an object", "/v1/models/m:predict", "", []byte(`[1, 2, 3]`), 400, "not JSON"},
		{"empty body", "/v1/models/m:predict", "", nil, 400, "the request body is empty"},
		{"no instances", "/v1/models/m:predict", "", []byte(`{"signature_name": "serving_default"}`), 400, `neither "instances" nor "inputs"`},
		{"both", "/v1/models/m:predict", "", []byte(`{"instances": [], "inputs": []}`), 400, "both"},
		{"zero instances", "/v1/models/m:predict", "", []byte(`{"instances": []}`), 400, "shape [0]"},
		{"wrong shape", "/v1/models/m:predict", "", []byte(row(`[[1, 2], [3, 4]]`)), 400, "has shape [1 2 2]; the model takes a list of instances of shape (6, 6, 1)"},
		{"ragged", "/v1/models/m:predict", "", []byte(row(`[[[1]], [[2], [3]]]`)), 400, "not rectangular"},
		{"strings", "/v1/models/m:predict", "", []byte(row(`"a picture"`)), 400, `unexpected '"'`},
		{"infinite", "/v1/models/m:predict", "", []byte(row(strings.Replace(one, "0", "1e999", 1))), 400, `"1e999" at offset`},
		{"NaN", "/v1/models/m:predict", "", []byte(row(strings.Replace(one, "0", "NaN", 1))), 400, "unexpected 'N' at offset 4, want a number"},
		{"bad signature", "/v1/models/m:predict", "", []byte(`{"signature_name": "other", "instances": [` + one + `]}`), 400, `signature "other"`},
		{"two inputs named", "/v1/models/m:predict", "", []byte(`{"inputs": {"a": [], "b": []}}`), 400, "names 2 inputs [a b]"},
		{"too many instances", "/v1/models/m:predict", "", []byte(row(strings.Repeat(one+",", 8) + one)), 400, "more than 288 values"},
		{"too deep", "/v1/models/m:predict", "", []byte(row(strings.Repeat("[", 20) + strings.Repeat("]", 20))), 400, "nested deeper than 8"},
		{"huge body", "/v1/models/m:predict", "", []byte(huge), 413, "larger than the limit of 1048576 bytes"},
		{"unknown model", "/v1/models/nope:predict", "", []byte(row(one)), 404, `model "nope" is not served (served: m)`},
		{"unknown version", "/v1/models/m/versions/7:predict", "", []byte(row(one)), 404, `no version "7"`},
		{"unknown method", "/v1/models/m:regress", "", []byte(row(one)), 404, `no method "regress"`},
		{"bad path", "/v1/models/m/a/b/c", "", nil, 404, "no endpoint"},
		{"v2 malformed", "/v2/models/m/infer", "", []byte(`{"inputs": [{"shape": "six"}]}`), 400, `"shape": json: cannot unmarshal string`},
		{"v2 truncated", "/v2/models/m/infer", "", []byte(`{"inputs": [{"shape": [1, 6`), 400, "not JSON of the v2 inference protocol"},
		{"invalid member", "/v1/models/m:predict", "", []byte(`{"instances": [` + one + `], "extra": [tru]}`), 400, `"extra" is not valid JSON`},
		{"duplicate key", "/v1/models/m:predict", "", []byte(`{"instances": [` + one + `], "instances": []}`), 400, `the key "instances" appears twice`},
		{"v2 datatype", "/v2/models/m/infer", "", []byte(v2(`[1, 6, 6, 1]`, "INT64", "["+flat+"]")), 400, `datatype "INT64"`},
		{"v2 shape", "/v2/models/m/infer", "", []byte(v2(`[1, 5, 6, 1]`, "FP32", "["+flat+"]")), 400, "input shape [1 5 6 1]"},
		{"v2 data count", "/v2/models/m/infer", "", []byte(v2(`[2, 6, 6, 1]`, "FP32", "["+flat+"]")), 400, "holds 36 values; shape [2 6 6 1] needs 72"},
		{"v2 uint8 range", "/v2/models/m/infer", "", []byte(v2(`[1, 6, 6, 1]`, "UINT8", "[300"+strings.Repeat(",0", 35)+"]")), 400, "is not a UINT8"},
		{"v2 output", "/v2/models/m/infer", "", []byte(`{"inputs": [{"name": "input_layer", "shape": [1, 6, 6, 1], "datatype": "FP32", "data": [` + flat + `]}], "outputs": [{"name": "logits"}]}`), 400, `output "logits"`},
		{"v2 unknown model", "/v2/models/nope/infer", "", []byte(v2(`[1, 6, 6, 1]`, "FP32", "["+flat+"]")), 404, `model "nope" is not served`},
		{"not an image", "/v1/models/m:classify", "image/png", []byte("hello, not a PNG"), 400, "not a usable PNG or JPEG image"},
		{"decompression bomb", "/v1/models/m:classify", "image/png", bombPNG(100000, 100000), 400, "100000x100000"},
		{"truncated image", "/v1/models/m:classify", "image/png", pngBytes(t, 20, 20)[:60], 400, "not a usable PNG or JPEG image"},
		{"bad top", "/v1/models/m:classify?top=-1", "image/png", pngBytes(t, 20, 20), 400, `top="-1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctype := c.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			resp, err := http.Post(ts.URL+c.path, ctype, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct{ Error string }
			if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != c.code || !strings.Contains(e.Error, c.want) {
				t.Errorf("status %d %s\nwant %d and an error with %q", resp.StatusCode, b, c.code, c.want)
			}
		})
	}
	// Wrong methods.
	for _, c := range []struct{ method, path string }{{"GET", "/v1/models/m:predict"}, {"POST", "/v1/models/m"}, {"POST", "/v2/models/m"}, {"GET", "/v2/models/m/infer"}} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 405 || !strings.Contains(string(b), "takes") || resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
}

// TestBadNeighbours sends good and bad requests together: the bad ones
// fail alone, every good one is answered.
func TestBadNeighbours(t *testing.T) {
	_, ts, _ := newServer(t, serve.Options{MaxBatch: 32, MaxWait: 10 * time.Millisecond})
	good := `{"instances": [` + mustJSON(nested(sample(0))) + `]}`
	bad := `{"instances": [[[1, 2]]]}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string][]int{}
	for k := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, kind := good, "good"
			if k%3 == 0 {
				body, kind = bad, "bad"
			}
			resp, err := http.Post(ts.URL+"/v1/models/m:predict", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[kind] = append(codes[kind], resp.StatusCode)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, c := range codes["good"] {
		if c != 200 {
			t.Errorf("good requests answered %v", codes["good"])
			break
		}
	}
	for _, c := range codes["bad"] {
		if c != 400 {
			t.Errorf("bad requests answered %v", codes["bad"])
			break
		}
	}
}

// TestSlowloris opens connections that send their headers a byte at a
// time: the server built by NewHTTPServer (here with its header timeout
// shortened) closes them instead of waiting forever, and still answers
// others.
func TestSlowloris(t *testing.T) {
	s, _, _ := newServer(t, serve.Options{})
	srv := serve.NewHTTPServer("127.0.0.1:0", s.Handler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("NewHTTPServer sets no timeouts: %+v", srv)
	}
	srv.ReadHeaderTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	conns := make([]net.Conn, 20)
	for i := range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\n")
		conns[i] = c
	}
	start := time.Now()
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := c.Write([]byte("X")); err != nil {
				break
			}
			buf := make([]byte, 1)
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Read(buf); err == io.EOF {
				break
			} else if err == nil {
				break // the server answered (408) and will close
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("a slow client still holds its connection after 5s")
			}
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow clients cut off after %v", d)
	}
	// A normal client is still served.
	resp, err := http.Get("http://" + ln.Addr().String() + "/v2/health/live")
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(line, `"live":true`) {
		t.Errorf("after the slow clients: %d %s", resp.StatusCode, line)
	}
}
