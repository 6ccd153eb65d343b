package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a Server; the zero value of a field is its default.
type Options struct {
	// MaxBatch is the most samples run in one batch (default 64).
	MaxBatch int
	// MaxWait is how long a batch waits for requests being decoded
	// (default 2ms; negative: never waits).
	MaxWait time.Duration
	// QueueSize bounds the requests queued per model (default 256); when
	// full, a request is answered 503 with Retry-After.
	QueueSize int
	// MaxBodyBytes bounds a request body (default 32 MiB): 413 beyond.
	MaxBodyBytes int64
	// MaxInstances bounds the samples in one request (default 1024).
	MaxInstances int
	// Timeout bounds a request's time in the server (default 30s): 503
	// when it ran out in the queue.
	Timeout time.Duration
	// MaxPixels bounds an image's width × height before it is decoded
	// (default dataset.DefaultMaxPixels).
	MaxPixels int64
	// Limits bound the models loaded (default graph.DefaultLimits).
	Limits graph.Limits
	// Logger receives the structured logs (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the Prometheus metrics; nil: a registry of the
	// server's own, served at /metrics.
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	if o.MaxWait == 0 {
		o.MaxWait = 2 * time.Millisecond
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = dataset.DefaultMaxPixels
	}
	if o.Limits == (graph.Limits{}) {
		o.Limits = graph.DefaultLimits
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Server serves saved models over HTTP: TensorFlow Serving's REST API,
// KServe's Open Inference Protocol v2, an image classification endpoint,
// health and Prometheus metrics (see Handler). Concurrent requests for a
// model are batched. It is safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	mu      sync.RWMutex
	models  map[string]*servable
	closed  atomic.Bool
}

// servable is one served model: its source, the version taking traffic
// and its batcher.
type servable struct {
	name    string
	src     source
	cur     atomic.Pointer[version]
	batch   *batcher
	reloadM sync.Mutex // one reload at a time
}

// New returns a Server with no models.
func New(opts Options) *Server {
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger, models: map[string]*servable{}}
	s.metrics = newMetrics(opts.Registerer, s)
	return s
}

// Add serves the model at path under name: a model file (a new file put in
// its place is served once loaded and verified) or a directory of numbered
// versions, DIR/1/, DIR/2/, ..., each holding one .safetensors file, of
// which the highest is served. The model is loaded and verified (one input,
// one output, finite predictions) before Add returns.
func (s *Server) Add(name, path string) error {
	if name == "" {
		return fmt.Errorf("serve: a model needs a name")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("serve: model %q: %w", name, err)
	}
	sv := &servable{name: name, src: source{path: path, dir: fi.IsDir()}}
	p, num, stamp, err := sv.src.latest()
	if err != nil {
		return fmt.Errorf("serve: model %q: %w", name, err)
	}
	if !sv.src.dir {
		num = 1
	}
	v, err := loadVersion(p, num, stamp, s.opts.Limits)
	if err != nil {
		return fmt.Errorf("serve: model %q: %w", name, err)
	}
	sv.cur.Store(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.models[name]; ok {
		return fmt.Errorf("serve: model %q is already served", name)
	}
	sv.batch = newBatcher(s.opts.QueueSize, s.opts.MaxBatch, s.opts.MaxWait, sv.cur.Load, func(n int) { s.metrics.batch.WithLabelValues(name).Observe(float64(n)) })
	s.models[name] = sv
	s.metrics.version.WithLabelValues(name).Set(float64(v.number))
	s.log.Info("model loaded", "model", name, "version", v.number, "path", v.path, "input", v.in.String(), "output", v.out.String())
	return nil
}

// Models returns the names of the models served, sorted.
func (s *Server) Models() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for n := range s.models {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *Server) model(name string) (*servable, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sv, ok := s.models[name]
	return sv, ok
}

// Reload checks every model's source and serves its new version if there
// is one: loaded and verified first, while the old version keeps taking
// traffic; a version that fails to load is logged and the old one stays.
// It returns the first failure.
func (s *Server) Reload() error {
	var first error
	for _, name := range s.Models() {
		sv, _ := s.model(name)
		if err := s.reload(sv); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Server) reload(sv *servable) error {
	sv.reloadM.Lock()
	defer sv.reloadM.Unlock()
	old := sv.cur.Load()
	p, num, stamp, err := sv.src.latest()
	if err != nil {
		s.metrics.reloads.WithLabelValues(sv.name, "error").Inc()
		s.log.Error("model reload failed", "model", sv.name, "err", err)
		return fmt.Errorf("serve: model %q: %w", sv.name, err)
	}
	if sv.src.dir && num == old.number || !sv.src.dir && stamp == old.stamp {
		return nil
	}
	if !sv.src.dir {
		num = old.number + 1
	}
	v, err := loadVersion(p, num, stamp, s.opts.Limits)
	if err != nil {
		s.metrics.reloads.WithLabelValues(sv.name, "error").Inc()
		s.log.Error("model reload failed: the old version keeps serving", "model", sv.name, "version", old.number, "err", err)
		return fmt.Errorf("serve: model %q: %w", sv.name, err)
	}
	sv.cur.Store(v)
	s.metrics.reloads.WithLabelValues(sv.name, "ok").Inc()
	s.metrics.version.WithLabelValues(sv.name).Set(float64(v.number))
	s.log.Info("model reloaded", "model", sv.name, "version", v.number, "previous", old.number, "path", v.path)
	return nil
}

// Watch reloads the models every interval until ctx is done.
func (s *Server) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Reload()
		}
	}
}

// Close stops the batchers after their running batches; requests still
// queued are answered 503. Call it after http.Server.Shutdown has finished
// the requests in flight.
func (s *Server) Close() {
	s.closed.Store(true)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sv := range s.models {
		sv.batch.close()
	}
}

// predict runs n samples x (validated against v) through the model's
// batcher and waits for the outputs, the request's context or the
// server's timeout.
func (s *Server) predict(ctx context.Context, sv *servable, v *version, x []float32, n int) (result, error) {
	j := &job{ctx: ctx, v: v, x: x, n: n, done: make(chan result, 1)}
	if err := sv.batch.submit(j); err != nil {
		return result{}, err
	}
	select {
	case r := <-j.done:
		return r, r.err
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
}

// NewHTTPServer returns an http.Server for h on addr with the timeouts a
// server facing the network needs: a client that sends its headers or body
// slowly (slowloris) is cut off instead of holding a connection.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// errorStatus maps an error of predict to its HTTP status.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, errQueueFull), errors.Is(err, errClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return 499 // the client went away (nginx's code)
	}
	return http.StatusInternalServerError
}
