// Package prebuilds holds what the prebuilt-workspace reconciler (a River job in jobs) last saw of
// each preset's pool, for the API, the dashboard and the metrics. The reconciler runs on the leader
// replica; it publishes its view in the database, so every replica's API answers with it, while the
// metrics come from the leader alone (one series per pool across the deployment).
package prebuilds

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
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
	// Claimed counts the preset's prebuilds users have claimed, ever.
	Claimed int `json:"claimed"`
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

// siteConfigKey is where the leader's last view is kept for every replica.
const siteConfigKey = "prebuild_pools"

type published struct {
	Pools []Pool    `json:"pools"`
	At    time.Time `json:"at"`
}

// Publish keeps the view in the database for every replica (Load).
func Publish(ctx context.Context, q *dbsqlc.Queries, pools []Pool, at time.Time) error {
	if pools == nil {
		pools = []Pool{}
	}
	b, err := json.Marshal(published{Pools: pools, At: at})
	if err != nil {
		return err
	}
	return q.UpsertSiteConfig(ctx, dbsqlc.UpsertSiteConfigParams{Key: siteConfigKey, Value: string(b)})
}

// Load reads the view the leader last published; no pools and a zero time before its first pass.
func Load(ctx context.Context, q *dbsqlc.Queries) ([]Pool, time.Time, error) {
	v, err := q.GetSiteConfig(ctx, siteConfigKey)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return []Pool{}, time.Time{}, nil
	} else if err != nil {
		return nil, time.Time{}, err
	}
	var p published
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return nil, time.Time{}, err
	}
	if p.Pools == nil {
		p.Pools = []Pool{}
	}
	return p.Pools, p.At, nil
}

var (
	descDesired  = prometheus.NewDesc("hearth_prebuilds_desired", "Prebuilt workspaces a preset asks for (prebuilds.instances).", []string{"template", "preset"}, nil)
	descRunning  = prometheus.NewDesc("hearth_prebuilds_running", "Prebuilt workspaces running on the template's active version.", []string{"template", "preset"}, nil)
	descEligible = prometheus.NewDesc("hearth_prebuilds_eligible", "Running prebuilt workspaces whose agents are ready: what a claim takes.", []string{"template", "preset"}, nil)
	descStarting = prometheus.NewDesc("hearth_prebuilds_starting", "Prebuilt workspaces being built.", []string{"template", "preset"}, nil)
	descFailed   = prometheus.NewDesc("hearth_prebuilds_failed", "Prebuilt workspaces whose first build failed in the last hour.", []string{"template", "preset"}, nil)
	descClaimed  = prometheus.NewDesc("hearth_prebuilds_claimed_total", "Prebuilt workspaces users have claimed.", []string{"template", "preset"}, nil)
)

// Describe implements prometheus.Collector.
func (p *Pools) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDesired, descRunning, descEligible, descStarting, descFailed, descClaimed} {
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
		ch <- prometheus.MustNewConstMetric(descClaimed, prometheus.CounterValue, float64(pool.Claimed), pool.TemplateName, pool.Preset)
	}
}
