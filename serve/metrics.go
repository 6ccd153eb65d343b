package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec   // by model, api, code
	latency  *prometheus.HistogramVec // seconds, by model and api
	batch    *prometheus.HistogramVec // samples per batch, by model
	reloads  *prometheus.CounterVec   // by model and result
	version  *prometheus.GaugeVec     // the version serving, by model
	handler  http.Handler
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capa_serve_requests_total", Help: "Requests answered, by model, API and HTTP status code.",
		}, []string{"model", "api", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "capa_serve_request_duration_seconds", Help: "Time from a request's arrival to its answer.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"model", "api"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "capa_serve_batch_size", Help: "Samples per batch run.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}, []string{"model"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capa_serve_reloads_total", Help: "Versions loaded after the first, by result (ok, error).",
		}, []string{"model", "result"}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "capa_serve_model_version", Help: "The version taking traffic.",
		}, []string{"model"}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "capa_serve_queue_depth", Help: "Requests queued, over all models.",
	}, func() float64 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		n := 0
		for _, sv := range s.models {
			n += len(sv.batch.queue)
		}
		return float64(n)
	})
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
		reg = r
		m.handler = promhttp.HandlerFor(r, promhttp.HandlerOpts{})
	} else {
		m.handler = promhttp.Handler()
	}
	reg.MustRegister(m.requests, m.latency, m.batch, m.reloads, m.version, queue)
	return m
}
