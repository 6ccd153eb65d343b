package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/serve"
)

const serveUsage = `Usage: capa serve --model NAME=PATH [--model NAME2=PATH2 ...] [--addr 127.0.0.1:8501] [flags]

Serves saved models over HTTP until SIGTERM or Ctrl-C, which finish the
requests in flight; SIGHUP reloads. PATH is a model file (a new file put in
its place is served once loaded and verified: capa train writes atomically)
or a directory of numbered versions, PATH/1/model.safetensors,
PATH/2/..., the highest served. The APIs:

  POST /v1/models/NAME:predict      TensorFlow Serving REST ({"instances": [...]} or {"inputs": ...})
  GET  /v1/models/NAME[/metadata]   TensorFlow Serving status and signature
  POST /v1/models/NAME:classify     a PNG or JPEG body: the top classes (?top=5)
  GET  /v2/health/live|ready        KServe v2 health
  GET  /v2/models/NAME              KServe v2 metadata
  POST /v2/models/NAME/infer        KServe v2 inference (FP32, UINT8)
  GET  /metrics                     Prometheus metrics

Concurrent requests are batched (--max-batch, --max-wait); a full queue
answers 503 with Retry-After. Logs are structured (log/slog) on stderr.

  curl -s localhost:8501/v1/models/fashion:classify --data-binary @shoe.png
`

// modelFlags collects repeated --model NAME=PATH flags.
type modelFlags []string

func (m *modelFlags) String() string { return strings.Join(*m, ",") }

func (m *modelFlags) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" || strings.ContainsAny(name, "/:") {
		return fmt.Errorf("want NAME=PATH (a name without / or :), got %q", v)
	}
	*m = append(*m, v)
	return nil
}

// serveFlags are the options of capa serve, shared with capa loadtest.
type serveFlags struct {
	maxBatch, queue, maxInstances *int
	maxWait, timeout, poll        *time.Duration
	maxBody                       *int64
}

func addServeFlags(fs interface {
	Int(string, int, string) *int
	Duration(string, time.Duration, string) *time.Duration
	Int64(string, int64, string) *int64
}) serveFlags {
	return serveFlags{
		maxBatch:     fs.Int("max-batch", 64, "most samples run in one batch"),
		maxWait:      fs.Duration("max-wait", 2*time.Millisecond, "how long a batch waits for requests being read"),
		queue:        fs.Int("queue", 256, "requests queued per model before 503"),
		maxInstances: fs.Int("max-instances", 1024, "most samples in one request"),
		timeout:      fs.Duration("timeout", 30*time.Second, "longest time a request spends in the server"),
		maxBody:      fs.Int64("max-body", 32<<20, "largest request body in bytes"),
		poll:         fs.Duration("poll", 2*time.Second, "how often to look for new model versions (0: only on SIGHUP)"),
	}
}

func (f serveFlags) options(log *slog.Logger) serve.Options {
	return serve.Options{MaxBatch: *f.maxBatch, MaxWait: *f.maxWait, QueueSize: *f.queue, MaxInstances: *f.maxInstances,
		Timeout: *f.timeout, MaxBodyBytes: *f.maxBody, Logger: log}
}

func cmdServe(args []string) error {
	fs := cli.NewFlagSet("capa serve", serveUsage)
	var models modelFlags
	fs.Var(&models, "model", "NAME=PATH of a model file or version directory to serve (repeat for more)")
	addr := fs.String("addr", "127.0.0.1:8501", "address to listen on (TensorFlow Serving's REST port)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "text", "text or json")
	sf := addServeFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if len(models) == 0 || fs.NArg() > 0 {
		return cli.Usagef("give one or more --model NAME=PATH, and no other arguments")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return cli.Usagef("--log-level %q: want debug, info, warn or error", *level)
	}
	var h slog.Handler
	switch *format {
	case "text":
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})
	case "json":
		h = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lv})
	default:
		return cli.Usagef("--log-format %q: want text or json", *format)
	}
	log := slog.New(h)
	s := serve.New(sf.options(log))
	for _, m := range models {
		name, path, _ := strings.Cut(m, "=")
		if err := s.Add(name, path); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := serve.NewHTTPServer(*addr, s.Handler())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *sf.poll > 0 {
		go s.Watch(ctx, *sf.poll)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info("SIGHUP: reloading")
			s.Reload()
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "models", strings.Join(s.Models(), ","))
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing the requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), *sf.timeout+5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	s.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
