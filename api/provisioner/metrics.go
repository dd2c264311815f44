package provisioner

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/provisioning"
)

// Collector serves the queue's depth, age and workers as Prometheus gauges, read at scrape time, so
// an autoscaler (KEDA) can size the worker pool to the queue. Tag sets are labels like region=eu,
// empty for untagged.
type Collector struct {
	db  *db.DB
	log *slog.Logger
}

// NewCollector returns a collector on d.
func NewCollector(d *db.DB, log *slog.Logger) *Collector { return &Collector{db: d, log: log} }

var (
	jobsDesc = prometheus.NewDesc("hearth_provisioner_jobs",
		"Provisioner jobs not yet finished, by state (available = waiting, running, ...) and tag set.", []string{"state", "tags"}, nil)
	oldestDesc = prometheus.NewDesc("hearth_provisioner_queue_oldest_seconds",
		"Age of the oldest waiting provisioner job, by tag set.", []string{"tags"}, nil)
	workersDesc = prometheus.NewDesc("hearth_provisioner_workers",
		"Provisioner workers seen in the last minute, by tag set.", []string{"tags"}, nil)
	unmatchedDesc = prometheus.NewDesc("hearth_provisioner_jobs_unmatched",
		"Waiting provisioner jobs that no present worker takes (no worker has their tags), by tag set.", []string{"tags"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- oldestDesc
	ch <- workersDesc
	ch <- unmatchedDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := provisioning.Snapshot(ctx, c.db)
	if err != nil {
		c.log.Warn("provisioner metrics: reading the queue failed", "error", err)
		return
	}
	for k, n := range s.Counts {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), k.State, k.Tags)
	}
	for tags, at := range s.Oldest {
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, time.Since(at).Seconds(), tags)
	}
	for tags, n := range s.Workers {
		ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(n), tags)
	}
	for tags, n := range s.Unmatched {
		ch <- prometheus.MustNewConstMetric(unmatchedDesc, prometheus.GaugeValue, float64(n), tags)
	}
}
