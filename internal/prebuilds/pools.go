// Package prebuilds holds what the prebuilt-workspace reconciler (a River job in jobs) last saw of
// each preset's pool, for the API, the dashboard and the metrics.
package prebuilds

import (
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Pool is one preset's prebuilds as the last reconciliation saw them.
type Pool struct {
	TemplateID   uuid.UUID `json:"template_id"`
	TemplateName string    `json:"template_name"`
	Preset       string    `json:"preset"`
	// Desired is the preset's prebuilds.instances.
	Desired int `json:"desired"`
	// Running are built on the active version and running; Eligible those of them whose agents are
	// ready (what a claim takes); Starting are being built.
	Running  int `json:"running"`
	Eligible int `json:"eligible"`
	Starting int `json:"starting"`
	// Failed counts first builds that failed in the last hour; while any did, new ones wait
	// (BackoffUntil).
	Failed       int        `json:"failed"`
	BackoffUntil *time.Time `json:"backoff_until,omitempty"`
}

// Pools is the reconciler's last view, for the API and metrics.
type Pools struct {
	mu    sync.Mutex
	pools []Pool
	at    time.Time
}

// Get returns the pools and when they were seen.
func (p *Pools) Get() ([]Pool, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Pool(nil), p.pools...), p.at
}

// Set replaces the view.
func (p *Pools) Set(pools []Pool) {
	p.mu.Lock()
	p.pools, p.at = pools, time.Now()
	p.mu.Unlock()
}

var (
	descDesired  = prometheus.NewDesc("hearth_prebuilds_desired", "Prebuilt workspaces a preset asks for (prebuilds.instances).", []string{"template", "preset"}, nil)
	descRunning  = prometheus.NewDesc("hearth_prebuilds_running", "Prebuilt workspaces running on the template's active version.", []string{"template", "preset"}, nil)
	descEligible = prometheus.NewDesc("hearth_prebuilds_eligible", "Running prebuilt workspaces whose agents are ready: what a claim takes.", []string{"template", "preset"}, nil)
	descStarting = prometheus.NewDesc("hearth_prebuilds_starting", "Prebuilt workspaces being built.", []string{"template", "preset"}, nil)
	descFailed   = prometheus.NewDesc("hearth_prebuilds_failed", "Prebuilt workspaces whose first build failed in the last hour.", []string{"template", "preset"}, nil)
)

// Describe implements prometheus.Collector.
func (p *Pools) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDesired, descRunning, descEligible, descStarting, descFailed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the pools as the last reconciliation saw them.
func (p *Pools) Collect(ch chan<- prometheus.Metric) {
	pools, _ := p.Get()
	for _, pool := range pools {
		for d, v := range map[*prometheus.Desc]int{descDesired: pool.Desired, descRunning: pool.Running, descEligible: pool.Eligible,
			descStarting: pool.Starting, descFailed: pool.Failed} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), pool.TemplateName, pool.Preset)
		}
	}
}
