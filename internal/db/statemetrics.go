package db

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector exports figures of the deployment's state, read from the database at scrape time:
// builds finished and how long recent ones ran, agents connected, River's unfinished jobs. Every
// replica reports the same deployment-wide figures: dashboards take their max.
type stateCollector struct {
	d                                    *DB
	builds, durations, agents, riverJobs *prometheus.Desc
}

// StateCollector returns the collector of the deployment's state figures.
func (d *DB) StateCollector() prometheus.Collector {
	return &stateCollector{d: d,
		builds: prometheus.NewDesc("hearth_workspace_builds_finished_total",
			"Workspace builds finished, by transition and status (succeeded, failed, canceled), deployment-wide.", []string{"transition", "status"}, nil),
		durations: prometheus.NewDesc("hearth_workspace_build_seconds",
			"Run time (started to completed) of the workspace builds finished in the last 15 minutes, by transition: the quantile label is 0.5 or 0.95.", []string{"transition", "quantile"}, nil),
		agents: prometheus.NewDesc("hearth_workspace_agents_connected",
			"Workspace agents whose tunnel a replica holds, deployment-wide.", nil, nil),
		riverJobs: prometheus.NewDesc("hearth_river_jobs",
			"River jobs not yet finished (available, pending, retryable, running, scheduled), by state and kind.", []string{"state", "kind"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.builds
	ch <- c.durations
	ch <- c.agents
	ch <- c.riverJobs
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if rows, err := c.d.CountFinishedBuilds(ctx); err == nil {
		for _, r := range rows {
			ch <- prometheus.MustNewConstMetric(c.builds, prometheus.CounterValue, float64(r.Builds), r.Transition, r.Status)
		}
	}
	if rows, err := c.d.RecentBuildDurations(ctx); err == nil {
		for _, r := range rows {
			ch <- prometheus.MustNewConstMetric(c.durations, prometheus.GaugeValue, r.P50, r.Transition, "0.5")
			ch <- prometheus.MustNewConstMetric(c.durations, prometheus.GaugeValue, r.P95, r.Transition, "0.95")
		}
	}
	if n, err := c.d.CountConnectedAgents(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(n))
	}
	if rows, err := c.d.CountLiveRiverJobs(ctx); err == nil {
		for _, r := range rows {
			ch <- prometheus.MustNewConstMetric(c.riverJobs, prometheus.GaugeValue, float64(r.Jobs), r.State, r.Kind)
		}
	}
}
