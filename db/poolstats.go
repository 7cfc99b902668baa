package db

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exposes pgxpool's statistics at scrape time, for a server's
// /metrics.
func PoolCollector(pool *pgxpool.Pool) prometheus.Collector { return poolCollector{pool} }

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
