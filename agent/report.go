package agent

import (
	"context"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// metadataLoop runs each metadata script at its interval and reports the values that changed,
// all of them in one request per second at most.
func (a *agent) metadataLoop(ctx context.Context) {
	if len(a.manifest.Metadata) == 0 {
		return
	}
	var mu sync.Mutex
	pending := map[string]client.WorkspaceMetadataValue{}
	var wg sync.WaitGroup
	for _, m := range a.manifest.Metadata {
		interval := time.Duration(max(m.IntervalSeconds, 1)) * time.Second
		timeout := interval
		if m.TimeoutSeconds != nil && *m.TimeoutSeconds > 0 {
			timeout = time.Duration(*m.TimeoutSeconds) * time.Second
		}
		wg.Go(func() {
			var last client.WorkspaceMetadataValue
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				v := a.measure(ctx, m.Script, timeout)
				v.Key = m.Key
				if v.Value != last.Value || derefStr(v.Error) != derefStr(last.Error) || last.Key == "" {
					mu.Lock()
					pending[m.Key] = v
					mu.Unlock()
					last = v
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		}
		mu.Lock()
		items := make([]client.WorkspaceMetadataValue, 0, len(pending))
		for _, v := range pending {
			items = append(items, v)
		}
		pending = map[string]client.WorkspaceMetadataValue{}
		mu.Unlock()
		if len(items) == 0 {
			continue
		}
		res, err := a.api.ReportWorkspaceAgentMetadataWithResponse(ctx, &client.ReportWorkspaceAgentMetadataParams{},
			client.ReportWorkspaceAgentMetadataJSONRequestBody{Items: items})
		if err == nil {
			err = client.Check(res.HTTPResponse, res.Body)
		}
		if err != nil && ctx.Err() == nil {
			a.cfg.Logger.Warn("agent: reporting metadata failed", "error", err)
		}
	}
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// measure runs a metadata script; its trimmed output is the value.
func (a *agent) measure(ctx context.Context, script string, timeout time.Duration) client.WorkspaceMetadataValue {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, userShell(), "-c", script) //nolint:gosec // the template's own script
	cmd.Dir = a.workDir()
	cmd.Env = a.sessionEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	v := client.WorkspaceMetadataValue{CollectedAt: time.Now(), Value: strings.TrimSpace(string(out))}
	if len(v.Value) > 65536 {
		v.Value = v.Value[:65536]
	}
	if err != nil {
		msg := err.Error()
		if ctx.Err() != nil {
			msg = "timed out after " + timeout.String()
		}
		v.Error = &msg
	}
	return v
}

// appHealthLoop checks apps with a health check at their intervals: healthy after a 2xx or 3xx,
// unhealthy after threshold failures in a row, initializing until then. Changes are reported.
func (a *agent) appHealthLoop(ctx context.Context) {
	type check struct {
		slug      string
		url       string
		interval  time.Duration
		threshold int
	}
	var checks []check
	health := map[string]string{}
	for _, app := range a.manifest.Apps {
		if app.Healthcheck == nil || app.Healthcheck.Url == "" {
			continue
		}
		c := check{slug: app.Slug, url: app.Healthcheck.Url, interval: 5 * time.Second, threshold: 3}
		if app.Healthcheck.IntervalSeconds > 0 {
			c.interval = time.Duration(app.Healthcheck.IntervalSeconds) * time.Second
		}
		if app.Healthcheck.Threshold > 0 {
			c.threshold = int(app.Healthcheck.Threshold)
		}
		checks = append(checks, c)
		health[app.Slug] = "initializing"
	}
	if len(checks) == 0 {
		return
	}
	var mu sync.Mutex
	changed := true
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range checks {
		wg.Go(func() {
			failures := 0
			t := time.NewTicker(c.interval)
			defer t.Stop()
			for {
				state := ""
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
				var res *http.Response
				if err == nil {
					res, err = hc.Do(req)
				}
				if err == nil && res.StatusCode < 400 {
					failures, state = 0, "healthy"
				} else if failures++; failures >= c.threshold {
					state = "unhealthy"
				}
				if res != nil {
					_ = res.Body.Close()
				}
				mu.Lock()
				if state != "" && health[c.slug] != state {
					health[c.slug], changed = state, true
				}
				mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		}
		mu.Lock()
		if !changed {
			mu.Unlock()
			continue
		}
		snapshot := map[string]string{}
		for k, v := range health {
			snapshot[k] = v
		}
		changed = false
		mu.Unlock()
		res, err := a.api.ReportWorkspaceAgentAppHealthWithResponse(ctx, &client.ReportWorkspaceAgentAppHealthParams{},
			client.ReportWorkspaceAgentAppHealthJSONRequestBody{Apps: snapshot})
		if err == nil {
			err = client.Check(res.HTTPResponse, res.Body)
		}
		if err != nil && ctx.Err() == nil {
			a.cfg.Logger.Warn("agent: reporting app health failed", "error", err)
			mu.Lock()
			changed = true
			mu.Unlock()
		}
	}
}

// statsInterval is how often connection statistics are reported (when they changed); pathsInterval
// how often the WireGuard peers' paths are looked at, a change of which is reported at once.
const (
	statsInterval = 30 * time.Second
	pathsInterval = 5 * time.Second
)

func (a *agent) statsLoop(ctx context.Context) {
	t := time.NewTicker(pathsInterval)
	defer t.Stop()
	var last client.WorkspaceAgentStats
	var lastPaths []tailnet.PeerPath
	var lastReport time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := client.WorkspaceAgentStats{SessionsSsh: a.stats.sessionsSSH.Load(), SessionsPty: a.stats.sessionsPTY.Load(),
			SessionsTcp: a.stats.sessionsTCP.Load(), RxBytes: a.stats.rx.Load(), TxBytes: a.stats.tx.Load(), ConnectionsTotal: a.stats.total.Load()}
		paths := a.peerPaths(&s)
		open := s.SessionsSsh+s.SessionsPty+s.SessionsTcp > 0
		moved := !slices.EqualFunc(paths, lastPaths, func(x, y tailnet.PeerPath) bool {
			return x.ID == y.ID && x.Path == y.Path && x.Endpoint == y.Endpoint && x.DERPRegion == y.DERPRegion
		})
		due := time.Since(lastReport) >= statsInterval && (open || !sameCounts(s, last))
		if !moved && !due {
			continue
		}
		res, err := a.api.ReportWorkspaceAgentStatsWithResponse(ctx, &client.ReportWorkspaceAgentStatsParams{}, s)
		if err == nil {
			err = client.Check(res.HTTPResponse, res.Body)
		}
		if err != nil {
			if ctx.Err() == nil {
				a.cfg.Logger.Warn("agent: reporting statistics failed", "error", err)
			}
			continue
		}
		last, lastPaths, lastReport = s, paths, time.Now()
	}
}

// sameCounts reports whether two reports count the same connections and bytes.
func sameCounts(x, y client.WorkspaceAgentStats) bool {
	return x.SessionsSsh == y.SessionsSsh && x.SessionsPty == y.SessionsPty && x.SessionsTcp == y.SessionsTcp &&
		x.RxBytes == y.RxBytes && x.TxBytes == y.TxBytes && x.ConnectionsTotal == y.ConnectionsTotal
}

// peerPaths puts the WireGuard side into a report: the clients' sessions and their paths, and the
// agent's home DERP region.
func (a *agent) peerPaths(s *client.WorkspaceAgentStats) []tailnet.PeerPath {
	conn := a.tailnet.Load()
	if conn == nil {
		return nil
	}
	paths := conn.Paths()
	if derp := int64(conn.Node().PreferredDERP); derp != 0 {
		s.PreferredDerp = &derp
	}
	peers := make([]client.WorkspaceAgentPeer, 0, len(paths))
	for _, p := range paths {
		cp := client.WorkspaceAgentPeer{Id: p.ID.String(), Path: client.WorkspaceAgentPeerPathPending, RxBytes: p.RxBytes, TxBytes: p.TxBytes}
		switch p.Path {
		case tailnet.PathDirect:
			cp.Path, cp.Endpoint = client.WorkspaceAgentPeerPathDirect, &p.Endpoint
		case tailnet.PathDERP:
			cp.Path, cp.DerpRegion = client.WorkspaceAgentPeerPathDERP, &p.DERPRegion
		}
		if !p.LastHandshake.IsZero() {
			cp.LastHandshake = &p.LastHandshake
		}
		peers = append(peers, cp)
	}
	if len(peers) > 0 {
		s.Peers = &peers
	}
	return paths
}
