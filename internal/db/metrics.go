package db

import (
	"context"
	"time"

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

// writesCollector exports PostgreSQL's own counts of rows written per table and of transactions in
// this database, read at scrape time, so the database's write rate (and what causes it) can be
// watched next to Hearth's own figures.
type writesCollector struct {
	pool     *pgxpool.Pool
	rows, tx *prometheus.Desc
}

// WritesCollector returns a Prometheus collector of the database's write counters.
func (d *DB) WritesCollector() prometheus.Collector {
	return &writesCollector{pool: d.Pool,
		rows: prometheus.NewDesc("hearth_postgres_rows_written_total", "Rows inserted, updated or deleted in a table, as PostgreSQL counts them.", []string{"table"}, nil),
		tx:   prometheus.NewDesc("hearth_postgres_transactions_total", "Transactions committed in the database, as PostgreSQL counts them.", nil, nil)}
}

func (c *writesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.rows; ch <- c.tx }

func (c *writesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.pool.Query(ctx, `SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables`)
	if err == nil {
		for rows.Next() {
			var table string
			var n int64
			if rows.Scan(&table, &n) == nil {
				ch <- prometheus.MustNewConstMetric(c.rows, prometheus.CounterValue, float64(n), table)
			}
		}
		rows.Close()
	}
	var commits int64
	if c.pool.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&commits) == nil {
		ch <- prometheus.MustNewConstMetric(c.tx, prometheus.CounterValue, float64(commits))
	}
}
