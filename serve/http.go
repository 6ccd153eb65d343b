package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler returns the server's HTTP API:
//
//	POST /v1/models/{name}[/versions/{v}]:predict   TensorFlow Serving REST predict
//	GET  /v1/models/{name}[/versions/{v}]           TensorFlow Serving model status
//	GET  /v1/models/{name}[/versions/{v}]/metadata  TensorFlow Serving signature
//	POST /v1/models/{name}:classify                 a PNG or JPEG body: the top classes
//	GET  /v2/health/live, /v2/health/ready, /v2      KServe v2 health and server metadata
//	GET  /v2/models/{name}[/versions/{v}]           KServe v2 model metadata
//	GET  /v2/models/{name}[/versions/{v}]/ready     KServe v2 model readiness
//	POST /v2/models/{name}[/versions/{v}]/infer     KServe v2 inference (FP32, UINT8)
//	GET  /metrics                                   Prometheus metrics
//
// Every error is answered with a JSON body {"error": "..."} naming the
// problem: 400 for bad input, 404 for an unknown model or version, 405 for
// a wrong method, 413 for a body over the limit, 503 with Retry-After when
// the model's queue is full or the server stops.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/models/", s.tfServing)
	mux.HandleFunc("/v2/", s.kserve)
	mux.HandleFunc("/v2", s.kserve)
	mux.Handle("GET /metrics", s.metrics.handler)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody(fmt.Sprintf("no endpoint %s %s: see /v1/models/{name}:predict, /v2/models/{name}/infer", r.Method, r.URL.Path)))
	})
	return mux
}

// apiError is an error answered with its status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, a ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

func writeJSON(w http.ResponseWriter, status int, body any) {
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// answer writes the handler's result or error and records the metrics.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, model, api string, start time.Time, body any, err error) {
	status := http.StatusOK
	if err != nil {
		var ae *apiError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &ae):
			status = ae.status
		case errors.As(err, &mbe):
			status = http.StatusRequestEntityTooLarge
			err = fmt.Errorf("the request body is larger than the limit of %d bytes", mbe.Limit)
		default:
			status = errorStatus(err)
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("the request timed out after %v in the server", s.opts.Timeout)
			}
		}
		body = errorBody(err.Error())
		level := s.log.Info
		if status >= 500 {
			level = s.log.Warn
		}
		level("request failed", "model", model, "api", api, "method", r.Method, "path", r.URL.Path, "status", status, "err", err.Error())
	}
	writeJSON(w, status, body)
	if model != "" {
		s.metrics.requests.WithLabelValues(model, api, strconv.Itoa(status)).Inc()
		s.metrics.latency.WithLabelValues(model, api).Observe(time.Since(start).Seconds())
	}
}

// lookup finds the model and the version a path names ("" for the
// current one).
func (s *Server) lookup(name, ver string) (*servable, *version, error) {
	sv, ok := s.model(name)
	if !ok {
		return nil, nil, &apiError{http.StatusNotFound, fmt.Sprintf("model %q is not served (served: %s)", name, strings.Join(s.Models(), ", "))}
	}
	v := sv.cur.Load()
	if ver != "" && ver != strconv.FormatInt(v.number, 10) {
		return nil, nil, &apiError{http.StatusNotFound, fmt.Sprintf("model %q has no version %q taking traffic (version %d does)", name, ver, v.number)}
	}
	return sv, v, nil
}

// readBody reads the request body up to the limit, into one buffer of the
// length the client declared (when within the limit) rather than one grown
// by doubling.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= s.opts.MaxBodyBytes {
		// net/http ends the body at its Content-Length: the read of
		// one byte more ends early, at the body's end.
		b = make([]byte, n+1)
		var k int
		k, err = io.ReadFull(body, b)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
		b = b[:k]
	} else {
		b, err = io.ReadAll(body)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	if len(b) == 0 {
		return nil, badRequest("the request body is empty")
	}
	return b, nil
}

// run decodes the request with decode (into samples of v's input shape)
// and predicts them through the batcher.
func (s *Server) run(w http.ResponseWriter, r *http.Request, sv *servable, v *version, decode func([]byte, *version) ([]float32, int, error)) (result, error) {
	sv.batch.arriving.Add(1)
	arriving := true
	defer func() {
		if arriving {
			sv.batch.arriving.Add(-1)
		}
	}()
	if s.closed.Load() {
		return result{}, errClosed
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return result{}, err
	}
	x, n, err := decode(b, v)
	if err != nil {
		return result{}, err
	}
	if n == 0 {
		return result{}, badRequest("the request holds no instances")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	sv.batch.arriving.Add(-1)
	arriving = false
	return s.predict(ctx, sv, v, x, n)
}

// appendFloats appends vals as a JSON array shaped as shape.
func appendFloats(b []byte, vals []float32, shape []int) []byte {
	if len(shape) == 0 {
		return strconv.AppendFloat(b, float64(vals[0]), 'g', -1, 32)
	}
	b = append(b, '[')
	step := 1
	for _, d := range shape[1:] {
		step *= d
	}
	for i := 0; i < shape[0]; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloats(b, vals[i*step:(i+1)*step], shape[1:])
	}
	return append(b, ']')
}
