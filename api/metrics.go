package api

import (
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/evento-lab/evento/db"
)

// Metrics are one server's Prometheus metrics, served at GET /metrics. Each
// server process has its own registry; a run sums them across servers.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	retries   *prometheus.CounterVec
	batchSize prometheus.Histogram
}

// NewMetrics registers Evento's metrics, the pool's statistics and the Go
// runtime's. pool may be nil (no pool statistics).
func NewMetrics(pool *pgxpool.Pool) *Metrics {
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
			Name: "evento_serialization_retries_total",
			Help: "Transactions rerun after a serialization failure or deadlock, by strategy.",
		}, []string{"strategy"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "evento_batch_size",
			Help:    "Reserve requests booked per batched transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.retries, m.batchSize,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		m.registry.MustRegister(poolCollector{pool})
	}
	return m
}

// SerializationRetry counts a rerun transaction (wire it to db.Store.OnRetry).
func (m *Metrics) SerializationRetry(strategy string) { m.retries.WithLabelValues(strategy).Inc() }

// BatchBooked records the size of one batched transaction.
func (m *Metrics) BatchBooked(size int) { m.batchSize.Observe(float64(size)) }

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// instrument counts and times every request by its route pattern, so that
// ids never become label values.
func (m *Metrics) instrument(next http.Handler) http.Handler {
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
			if _, ok := db.LookupStrategy(name); ok {
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

// poolCollector exposes pgxpool's statistics at scrape time.
type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolAcquired  = prometheus.NewDesc("evento_pool_acquired_connections", "Connections in use.", nil, nil)
	poolIdle      = prometheus.NewDesc("evento_pool_idle_connections", "Idle connections.", nil, nil)
	poolTotal     = prometheus.NewDesc("evento_pool_total_connections", "Open connections.", nil, nil)
	poolMax       = prometheus.NewDesc("evento_pool_max_connections", "The pool's size.", nil, nil)
	poolWaits     = prometheus.NewDesc("evento_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitTime  = prometheus.NewDesc("evento_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", nil, nil)
	poolCanceled  = prometheus.NewDesc("evento_pool_canceled_acquires_total", "Acquires given up before a connection came.", nil, nil)
	poolAcquireOK = prometheus.NewDesc("evento_pool_acquires_total", "Successful acquires.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolWaits, poolWaitTime, poolCanceled, poolAcquireOK} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolAcquireOK, prometheus.CounterValue, float64(s.AcquireCount()))
}
