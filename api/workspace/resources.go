package workspace

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// ResourcesUsage is what an agent reports of the resources its template monitors.
type ResourcesUsage struct {
	Memory  *Usage        `json:"memory,omitempty"`
	Volumes []VolumeUsage `json:"volumes,omitempty" maxItems:"20"`
}

// Usage is a resource's use, in bytes.
type Usage struct {
	UsedBytes  int64 `json:"used_bytes" minimum:"0"`
	TotalBytes int64 `json:"total_bytes" minimum:"0"`
}

// VolumeUsage is a volume's use, by the path watched on it.
type VolumeUsage struct {
	Path string `json:"path" maxLength:"1024"`
	Usage
	Error string `json:"error,omitempty" maxLength:"1024" doc:"Why it could not be measured."`
}

type resourcesInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	Body  ResourcesUsage
}

func (h handlers) reportResources(ctx context.Context, in *resourcesInput) (*struct{}, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(in.Body)
	return nil, h.DB.SetAgentResourcesUsage(ctx, dbsqlc.SetAgentResourcesUsageParams{ID: a.WorkspaceAgent.ID, ResourcesUsage: data})
}

// Monitored is a watched resource's latest use against its threshold.
type Monitored struct {
	Path       string  `json:"path,omitempty" doc:"For a volume: the path watched on it."`
	UsedBytes  int64   `json:"used_bytes"`
	TotalBytes int64   `json:"total_bytes"`
	Percent    float64 `json:"percent"`
	Threshold  int     `json:"threshold"`
	Alert      bool    `json:"alert" doc:"Its use is at or above the threshold."`
	Error      string  `json:"error,omitempty"`
}

// Resources are an agent's monitored resources.
type Resources struct {
	Memory      *Monitored  `json:"memory,omitempty"`
	Volumes     []Monitored `json:"volumes"`
	CollectedAt *time.Time  `json:"collected_at,omitempty"`
	Alert       bool        `json:"alert" doc:"Any of them is at or above its threshold."`
}

// monitored puts an agent's latest report against its template's thresholds.
func monitored(a dbsqlc.WorkspaceAgent) Resources {
	var cfg provisioner.ResourcesMonitoring
	var use ResourcesUsage
	_ = json.Unmarshal(a.ResourcesMonitoring, &cfg) // written by us
	_ = json.Unmarshal(a.ResourcesUsage, &use)
	out := Resources{Volumes: []Monitored{}, CollectedAt: a.ResourcesUsageAt}
	check := func(u Usage, threshold int) Monitored {
		m := Monitored{UsedBytes: u.UsedBytes, TotalBytes: u.TotalBytes, Threshold: threshold}
		if u.TotalBytes > 0 {
			m.Percent = float64(u.UsedBytes) * 100 / float64(u.TotalBytes)
			m.Alert = m.Percent >= float64(threshold)
		}
		out.Alert = out.Alert || m.Alert
		return m
	}
	if cfg.Memory != nil && cfg.Memory.Enabled && use.Memory != nil {
		m := check(*use.Memory, cfg.Memory.Threshold)
		out.Memory = &m
	}
	for _, v := range cfg.Volumes {
		if !v.Enabled {
			continue
		}
		for _, u := range use.Volumes {
			if u.Path == v.Path {
				m := check(u.Usage, v.Threshold)
				m.Path, m.Error = v.Path, u.Error
				out.Volumes = append(out.Volumes, m)
			}
		}
	}
	return out
}
