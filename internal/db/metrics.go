package db

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports the pool's statistics, read at scrape time.
type poolCollector struct {
	pool                             *pgxpool.Pool
	total, idle, acquired, max       *prometheus.Desc
	acquireCount, acquireWait, empty *prometheus.Desc
}

// Collector returns a Prometheus collector for the pool's connection statistics.
func (d *DB) Collector() prometheus.Collector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("hearth_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:         d.Pool,
		total:        desc("connections", "Open connections."),
		idle:         desc("idle_connections", "Idle connections."),
		acquired:     desc("acquired_connections", "Connections in use."),
		max:          desc("max_connections", "The pool's connection limit."),
		acquireCount: desc("acquires_total", "Connections acquired from the pool."),
		acquireWait:  desc("acquire_wait_seconds_total", "Time spent waiting for a connection."),
		empty:        desc("empty_acquires_total", "Acquires that had to wait because no connection was idle."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquireCount, c.acquireWait, c.empty} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquireCount, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.acquireWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(c.empty, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
}
