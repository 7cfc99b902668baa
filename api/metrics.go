package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are one server's Prometheus metrics, served at GET /metrics by
// Server.AdminHandler. Each server process has its own registry; a run sums
// them across servers.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	retries   *prometheus.CounterVec
	batchSize prometheus.Histogram
}

// NewMetrics registers Evento's metrics, the Go runtime's, and extra
// collectors (the data layer's pool statistics).
func NewMetrics(extra ...prometheus.Collector) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evento_requests_total",
			Help: "HTTP requests by route, reserve mode and outcome code (the API's error code, or ok).",
		}, []string{"route", "mode", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "evento_request_duration_seconds",
			Help:    "HTTP request latency by route and reserve mode.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms .. 16s
		}, []string{"route", "mode"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evento_transaction_reruns_total",
			Help: "Transactions rerun in the server after they lost to a concurrent one (a serialization failure, a deadlock, optimistic's lost swap), by strategy.",
		}, []string{"strategy"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "evento_batch_size",
			Help:    "Reserve requests booked per batched transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.retries, m.batchSize,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registry.MustRegister(extra...)
	return m
}

// Rerun counts a rerun transaction (wire it to the data layer's retry hook).
func (m *Metrics) Rerun(strategy string) { m.retries.WithLabelValues(strategy).Inc() }

// BatchBooked records the size of one batched transaction.
func (m *Metrics) BatchBooked(size int) { m.batchSize.Observe(float64(size)) }

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// AdminHandler serves GET /metrics and GET /healthz, for an operator's
// listener apart from the API's. Metrics name the routes, modes and error
// rates, the pool and the runtime: a map for an attacker, and a scrape is
// not free, so the public port does not serve them.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.opts.Metrics.handler())
	mux.HandleFunc("GET /healthz", s.handleHealth)
	return mux
}

// instrument counts and times every request by its route pattern, so that
// ids never become label values; a mode is a label only when it is one of
// modes.
func (m *Metrics) instrument(next http.Handler, modes []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		rec := &outcomeRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route, mode := r.Pattern, "-"
		if route == "" {
			route = "unmatched"
		}
		if name := r.PathValue("mode"); name != "" {
			mode = "unknown"
			if slices.Contains(modes, name) {
				mode = name
			}
		}
		code := rec.code
		if code == "" {
			code = "ok"
		}
		m.requests.WithLabelValues(route, mode, code).Inc()
		m.latency.WithLabelValues(route, mode).Observe(time.Since(started).Seconds())
	})
}

// outcomeRecorder remembers the error code writeError answered with.
type outcomeRecorder struct {
	http.ResponseWriter
	code string
}

// recordCode tells the metrics which error code a response carried.
func recordCode(w http.ResponseWriter, code string) {
	if o, ok := w.(*outcomeRecorder); ok {
		o.code = code
	}
}
