package workspace

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/metadata"
	"github.com/hearthdev/hearth/internal/relay"
)

// AgentTokenHeader carries a workspace agent's token: the coder_agent token of its build.
const AgentTokenHeader = "Hearth-Agent-Token"

func registerAgent(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	agentOp := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{"Agents"}, Security: []map[string][]string{{"agent-token": {}}},
			Errors: []int{http.StatusUnauthorized}, Metadata: map[string]any{"audit": false}, DefaultStatus: http.StatusNoContent}
	}
	manifest := agentOp("get-workspace-agent-manifest", http.MethodGet, "/api/v2/workspaceagents/me/manifest", "Get the calling agent's manifest",
		"For workspace agents, with their token: who they are and what to run (directory, environment, scripts, apps, metadata). A token of a build that is no longer its workspace's latest is refused.")
	manifest.DefaultStatus = http.StatusOK
	huma.Register(api, manifest, h.manifest)
	huma.Register(api, agentOp("report-workspace-agent-lifecycle", http.MethodPost, "/api/v2/workspaceagents/me/lifecycle", "Report the agent's lifecycle",
		"created → starting → ready | start_error | start_timeout → shutting_down → off | shutdown_error | shutdown_timeout."), h.reportLifecycle)
	huma.Register(api, agentOp("upload-workspace-agent-logs", http.MethodPost, "/api/v2/workspaceagents/me/logs", "Upload script output",
		"A batch of lines from the agent's scripts, each with its source (the script's display name)."), h.uploadLogs)
	huma.Register(api, agentOp("report-workspace-agent-metadata", http.MethodPost, "/api/v2/workspaceagents/me/metadata", "Report metadata values",
		"The latest value (or error) of metadata items, keyed as in the manifest."), h.reportMetadata)
	huma.Register(api, agentOp("report-workspace-agent-app-health", http.MethodPost, "/api/v2/workspaceagents/me/app-health", "Report app health",
		"The health of each app with a health check, by slug."), h.reportAppHealth)
	huma.Register(api, agentOp("report-workspace-agent-resources", http.MethodPost, "/api/v2/workspaceagents/me/resources", "Report memory and volume use",
		"What the template's resources_monitoring watches: memory, and each volume by a path on it. The latest report is kept."), h.reportResources)
	huma.Register(api, agentOp("report-workspace-agent-stats", http.MethodPost, "/api/v2/workspaceagents/me/stats", "Report connection statistics",
		"Open sessions and bytes moved since the agent started. Open sessions count as activity on the workspace."), h.reportStats)

	huma.Register(api, op("get-workspace-agent", http.MethodGet, "/api/v2/workspaceagents/{agent}", "Get a workspace agent",
		"Its connection status (connecting, connected, disconnected, timeout), lifecycle, app health, statistics and latest metadata values. Agents of builds that are no longer their workspace's latest are not found."), h.getAgent)
	huma.Register(api, op("get-workspace-agent-logs", http.MethodGet, "/api/v2/workspaceagents/{agent}/logs", "Get an agent's script output",
		"The lines after `after`, oldest first, at most 1,000."), h.agentLogs)
}

type agentTokenInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
}

// callingAgent finds the agent a token belongs to, or answers 401.
func (h handlers) callingAgent(ctx context.Context, token string) (dbsqlc.GetWorkspaceAgentByTokenRow, error) {
	if token == "" {
		return dbsqlc.GetWorkspaceAgentByTokenRow{}, huma.Error401Unauthorized("Send the agent's token as " + AgentTokenHeader + ".")
	}
	sum := sha256.Sum256([]byte(token))
	if a, ok := h.agents.get(sum); ok {
		return a, nil
	}
	a, err := h.DB.GetWorkspaceAgentByToken(ctx, sum[:])
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return a, huma.Error401Unauthorized("The agent token is not one of a current workspace build's agents.")
	}
	if err == nil {
		h.agents.put(sum, a)
	}
	return a, err
}

// agentCache remembers which agent a token is for a few seconds, so an agent's frequent reports
// (metadata, stats, logs) do not each look its token up: that lookup joins four tables. A token
// that stops being valid (a new build) is refused within agentCacheTTL.
type agentCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedAgent
}

type cachedAgent struct {
	row dbsqlc.GetWorkspaceAgentByTokenRow
	at  time.Time
}

// agentCacheTTL bounds how long a token's identity is reused.
const agentCacheTTL = 5 * time.Second

func newAgentCache() *agentCache { return &agentCache{m: map[[32]byte]cachedAgent{}} }

func (c *agentCache) get(sum [32]byte) (dbsqlc.GetWorkspaceAgentByTokenRow, bool) {
	if c == nil {
		return dbsqlc.GetWorkspaceAgentByTokenRow{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sum]
	if !ok || time.Since(e.at) > agentCacheTTL {
		return dbsqlc.GetWorkspaceAgentByTokenRow{}, false
	}
	return e.row, true
}

func (c *agentCache) put(sum [32]byte, row dbsqlc.GetWorkspaceAgentByTokenRow) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 100_000 {
		for k, e := range c.m {
			if time.Since(e.at) > agentCacheTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= 100_000 {
			clear(c.m)
		}
	}
	c.m[sum] = cachedAgent{row: row, at: time.Now()}
}

// Manifest is what an agent needs to know about itself.
type Manifest struct {
	AgentID       uuid.UUID                   `json:"agent_id"`
	AgentName     string                      `json:"agent_name"`
	WorkspaceID   uuid.UUID                   `json:"workspace_id"`
	WorkspaceName string                      `json:"workspace_name"`
	OwnerID       uuid.UUID                   `json:"owner_id"`
	OwnerName     string                      `json:"owner_name"`
	Directory     string                      `json:"directory"`
	Env           map[string]string           `json:"env"`
	Scripts       []provisioner.Script        `json:"scripts"`
	Apps          []provisioner.App           `json:"apps"`
	Metadata      []provisioner.AgentMetadata `json:"metadata"`
	MOTDFile      string                      `json:"motd_file"`
	// ResourcesMonitoring is what to watch and report (report-workspace-agent-resources).
	ResourcesMonitoring provisioner.ResourcesMonitoring `json:"resources_monitoring"`
	// ExternalAuth names the external auth providers the template uses that this deployment offers:
	// the agent answers Git's credential requests for their URLs.
	ExternalAuth []string `json:"external_auth"`
}

// ManifestOutput is an agent's manifest.
type ManifestOutput struct {
	Body Manifest
}

func (h handlers) manifest(ctx context.Context, in *agentTokenInput) (*ManifestOutput, error) {
	row, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	a := row.WorkspaceAgent
	m := Manifest{AgentID: a.ID, AgentName: a.Name, WorkspaceID: row.WorkspaceID, WorkspaceName: row.WorkspaceName, OwnerID: row.OwnerID, OwnerName: row.OwnerName,
		Directory: a.Directory, Env: map[string]string{}, Scripts: []provisioner.Script{}, Apps: []provisioner.App{},
		Metadata: []provisioner.AgentMetadata{}, MOTDFile: a.MotdFile}
	// All written by us.
	_ = json.Unmarshal(a.Env, &m.Env)
	_ = json.Unmarshal(a.Scripts, &m.Scripts)
	_ = json.Unmarshal(a.Apps, &m.Apps)
	_ = json.Unmarshal(a.Metadata, &m.Metadata)
	_ = json.Unmarshal(a.ResourcesMonitoring, &m.ResourcesMonitoring)
	m.ExternalAuth = []string{}
	if h.ExternalAuth != nil && len(h.ExternalAuth.Providers()) > 0 {
		raw, err := h.DB.GetBuildExternalAuth(ctx, a.BuildID)
		if err != nil {
			return nil, err
		}
		for _, u := range versionExternalAuth(raw) {
			if _, ok := h.ExternalAuth.Provider(u.ID); ok {
				m.ExternalAuth = append(m.ExternalAuth, u.ID)
			}
		}
	}
	return &ManifestOutput{Body: m}, nil
}

type lifecycleInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	Body  struct {
		State string `json:"state" enum:"created,starting,ready,start_error,start_timeout,shutting_down,shutdown_error,shutdown_timeout,off"`
	}
}

func (h handlers) reportLifecycle(ctx context.Context, in *lifecycleInput) (*struct{}, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	return nil, h.DB.SetAgentLifecycle(ctx, dbsqlc.SetAgentLifecycleParams{ID: a.WorkspaceAgent.ID, State: in.Body.State})
}

// AgentLog is a line of a script's output.
type AgentLog struct {
	ID        int64     `json:"id,omitempty" readOnly:"true"`
	CreatedAt time.Time `json:"created_at"`
	Source    string    `json:"source" maxLength:"128" doc:"The script's display name."`
	Level     string    `json:"level" enum:"debug,info,warn,error"`
	Output    string    `json:"output" maxLength:"65536"`
}

type uploadLogsInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	Body  struct {
		Logs []AgentLog `json:"logs" maxItems:"1000"`
	}
}

func (h handlers) uploadLogs(ctx context.Context, in *uploadLogsInput) (*struct{}, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	p := dbsqlc.InsertAgentLogsParams{AgentID: a.WorkspaceAgent.ID}
	for _, l := range in.Body.Logs {
		p.CreatedAt = append(p.CreatedAt, l.CreatedAt)
		p.Source = append(p.Source, l.Source)
		p.Level = append(p.Level, l.Level)
		p.Output = append(p.Output, l.Output)
	}
	return nil, h.DB.InsertAgentLogs(ctx, p)
}

// MetadataValue is the latest measurement of an agent metadata item.
type MetadataValue struct {
	Key         string    `json:"key" maxLength:"128"`
	Value       string    `json:"value" maxLength:"65536"`
	Error       string    `json:"error,omitempty" maxLength:"4096"`
	CollectedAt time.Time `json:"collected_at"`
}

type metadataInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	Body  struct {
		Items []MetadataValue `json:"items" maxItems:"100"`
	}
}

func (h handlers) reportMetadata(ctx context.Context, in *metadataInput) (*struct{}, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	if h.Metadata != nil {
		values := make(map[string]metadata.Value, len(in.Body.Items))
		for _, m := range in.Body.Items {
			values[m.Key] = metadata.Value{Value: m.Value, Error: m.Error, CollectedAt: m.CollectedAt}
		}
		h.Metadata.Report(a.WorkspaceAgent.ID, values)
		return nil, nil
	}
	p := dbsqlc.UpsertAgentMetadataParams{AgentID: a.WorkspaceAgent.ID}
	for _, m := range in.Body.Items {
		p.Key = append(p.Key, m.Key)
		p.Value = append(p.Value, m.Value)
		p.Error = append(p.Error, m.Error)
		p.CollectedAt = append(p.CollectedAt, m.CollectedAt)
	}
	return nil, h.DB.UpsertAgentMetadata(ctx, p)
}

type appHealthInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	Body  struct {
		Apps map[string]string `json:"apps" doc:"Slug to initializing, healthy or unhealthy."`
	}
}

func (h handlers) reportAppHealth(ctx context.Context, in *appHealthInput) (*struct{}, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	for slug, v := range in.Body.Apps {
		if v != "initializing" && v != "healthy" && v != "unhealthy" {
			return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.apps." + slug,
				Message: "must be initializing, healthy or unhealthy", Value: v})
		}
	}
	data, _ := json.Marshal(in.Body.Apps)
	return nil, h.DB.SetAgentAppHealth(ctx, dbsqlc.SetAgentAppHealthParams{ID: a.WorkspaceAgent.ID, AppHealth: data})
}

// AgentStats counts an agent's connections since it started.
type AgentStats struct {
	SessionsSSH    int64 `json:"sessions_ssh" minimum:"0" doc:"Open SSH sessions."`
	SessionsPTY    int64 `json:"sessions_pty" minimum:"0" doc:"Open web terminals."`
	SessionsTCP    int64 `json:"sessions_tcp" minimum:"0" doc:"Open forwarded connections (port forwarding, apps)."`
	RxBytes        int64 `json:"rx_bytes" minimum:"0" doc:"Bytes received through the tunnel."`
	TxBytes        int64 `json:"tx_bytes" minimum:"0" doc:"Bytes sent through the tunnel."`
	ConnectionsAll int64 `json:"connections_total" minimum:"0" doc:"Connections opened since the agent started."`
	// Peers and PreferredDERP describe the agent's WireGuard side (direct connections).
	Peers         []AgentPeer `json:"peers,omitempty" maxItems:"1000" doc:"The clients with a WireGuard session to the agent now, and the path each one's packets take."`
	PreferredDERP int         `json:"preferred_derp,omitempty" minimum:"0" doc:"The agent's home DERP region (0: none yet, or direct connections are off)."`
}

// AgentPeer is a client's WireGuard session with an agent, as the agent sees it.
type AgentPeer struct {
	ID            uuid.UUID  `json:"id" doc:"The client's node (each CLI process or connection has its own)."`
	Kind          string     `json:"kind,omitempty" enum:"cli,replica" doc:"cli: a user's node (the CLI's, or its keeper's); replica: a server replica's own node, reaching the agent for the web terminal, apps and relayed connections. Set by the server, not by the agent."`
	Path          string     `json:"path" enum:"direct,DERP,pending" doc:"direct: UDP between the two machines; DERP: relayed by a DERP region; pending: no packet has passed yet."`
	Endpoint      string     `json:"endpoint,omitempty" maxLength:"64" doc:"The client's UDP address, on a direct path."`
	DERPRegion    string     `json:"derp_region,omitempty" maxLength:"64" doc:"The region's code, on a DERP path."`
	LastHandshake *time.Time `json:"last_handshake,omitempty" doc:"The last WireGuard handshake."`
	RxBytes       int64      `json:"rx_bytes" minimum:"0" doc:"Bytes received from the client over WireGuard."`
	TxBytes       int64      `json:"tx_bytes" minimum:"0" doc:"Bytes sent to the client over WireGuard."`
}

type statsInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	Body  AgentStats
}

func (h handlers) reportStats(ctx context.Context, in *statsInput) (*struct{}, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	if in.Body.SessionsSSH+in.Body.SessionsPTY+in.Body.SessionsTCP > 0 && h.Activity != nil {
		h.Activity.Touch(a.WorkspaceID)
	}
	if len(in.Body.Peers) > 0 {
		// Which of the peers are server replicas' own nodes (the web terminal and apps reaching the
		// agent), as the coordinator knows them; the agent cannot tell.
		rows, err := h.DB.ListTailnetPeers(ctx, a.WorkspaceAgent.ID)
		if err != nil {
			return nil, err
		}
		replicas := map[uuid.UUID]bool{}
		for _, r := range rows {
			replicas[r.ID] = r.Kind == "server"
		}
		for i := range in.Body.Peers {
			in.Body.Peers[i].Kind = "cli"
			if replicas[in.Body.Peers[i].ID] {
				in.Body.Peers[i].Kind = "replica"
			}
		}
	}
	data, _ := json.Marshal(in.Body)
	return nil, h.DB.SetAgentStats(ctx, dbsqlc.SetAgentStatsParams{ID: a.WorkspaceAgent.ID, Stats: data})
}

// AgentPath names an agent by ID.
type AgentPath struct {
	Agent uuid.UUID `path:"agent" doc:"The agent's ID."`
}

// AgentDetail is an agent with what it reports.
type AgentDetail struct {
	Agent
	WorkspaceID   uuid.UUID       `json:"workspace_id"`
	WorkspaceName string          `json:"workspace_name"`
	OwnerName     string          `json:"owner_name"`
	MetadataNow   []MetadataValue `json:"metadata_values"`
	Stats         AgentStats      `json:"stats"`
	// Resources are the monitored resources' latest use against the template's thresholds.
	Resources Resources `json:"resources"`
}

// AgentOutput is one agent.
type AgentOutput struct {
	Body AgentDetail
}

// findAgent loads an agent of a workspace the caller may see, or answers 404.
func (h handlers) findAgent(ctx context.Context, id uuid.UUID) (dbsqlc.GetWorkspaceAgentRow, error) {
	a, err := h.DB.GetWorkspaceAgent(ctx, id)
	var missing error = huma.Error404NotFound("No agent " + id.String() + " of a current workspace build.")
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return a, missing
	}
	if err != nil {
		return a, err
	}
	if ok, err := visible(ctx, h.DB.Queries, a.WorkspaceID, a.OwnerID); !ok {
		return a, cmp.Or(err, missing)
	}
	return a, nil
}

func (h handlers) getAgent(ctx context.Context, in *AgentPath) (*AgentOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	a, err := h.findAgent(ctx, in.Agent)
	if err != nil {
		return nil, err
	}
	values, err := h.DB.ListAgentMetadata(ctx, a.WorkspaceAgent.ID)
	if err != nil {
		return nil, err
	}
	out := AgentDetail{Agent: toAgent(a.WorkspaceAgent, a.ReplicaLastSeenAt), WorkspaceID: a.WorkspaceID, WorkspaceName: a.WorkspaceName,
		OwnerName: a.OwnerName, MetadataNow: []MetadataValue{}, Resources: monitored(a.WorkspaceAgent)}
	var pending map[string]metadata.Value // reported to this replica, not written yet
	if h.Metadata != nil {
		pending = h.Metadata.Pending(a.WorkspaceAgent.ID)
	}
	for _, v := range values {
		m := MetadataValue{Key: v.Key, Value: v.Value, Error: v.Error, CollectedAt: v.CollectedAt}
		if p, ok := pending[v.Key]; ok && !p.CollectedAt.Before(v.CollectedAt) {
			m = MetadataValue{Key: v.Key, Value: p.Value, Error: p.Error, CollectedAt: p.CollectedAt}
		}
		delete(pending, v.Key)
		out.MetadataNow = append(out.MetadataNow, m)
	}
	for k, p := range pending {
		out.MetadataNow = append(out.MetadataNow, MetadataValue{Key: k, Value: p.Value, Error: p.Error, CollectedAt: p.CollectedAt})
	}
	slices.SortFunc(out.MetadataNow, func(x, y MetadataValue) int { return strings.Compare(x.Key, y.Key) })
	_ = json.Unmarshal(a.WorkspaceAgent.Stats, &out.Stats)
	return &AgentOutput{Body: out}, nil
}

type agentLogsInput struct {
	AgentPath
	After int64 `query:"after" minimum:"0" doc:"Only lines after this line ID."`
}

// AgentLogsOutput is a page of an agent's script output.
type AgentLogsOutput struct {
	Body struct {
		Logs []AgentLog `json:"logs"`
	}
}

func (h handlers) agentLogs(ctx context.Context, in *agentLogsInput) (*AgentLogsOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	a, err := h.findAgent(ctx, in.Agent)
	if err != nil {
		return nil, err
	}
	rows, err := h.DB.ListAgentLogs(ctx, dbsqlc.ListAgentLogsParams{AgentID: a.WorkspaceAgent.ID, ID: in.After, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := &AgentLogsOutput{}
	out.Body.Logs = []AgentLog{}
	for _, l := range rows {
		out.Body.Logs = append(out.Body.Logs, AgentLog{ID: l.ID, CreatedAt: l.CreatedAt, Source: l.Source, Level: l.Level, Output: l.Output})
	}
	return out, nil
}

// agentStatus says whether an agent's tunnel is up: connected while a live replica holds it;
// connecting until it first connects, and timeout once that took longer than its connection timeout;
// disconnected after it was connected and is no longer.
func agentStatus(a dbsqlc.WorkspaceAgent, replicaSeen *time.Time, now time.Time) string {
	switch {
	case a.ReplicaID != nil && replicaSeen != nil && now.Sub(*replicaSeen) < relay.Fresh:
		return "connected"
	case a.FirstConnectedAt != nil:
		return "disconnected"
	case a.ConnectionTimeoutSeconds > 0 && now.Sub(a.CreatedAt) > time.Duration(a.ConnectionTimeoutSeconds)*time.Second:
		return "timeout"
	default:
		return "connecting"
	}
}

func toAgent(a dbsqlc.WorkspaceAgent, replicaSeen *time.Time) Agent {
	ag := Agent{ID: a.ID, Name: a.Name, OS: a.Os, Arch: a.Arch, Directory: a.Directory, Apps: []provisioner.App{},
		Scripts: []provisioner.Script{}, Metadata: []provisioner.AgentMetadata{}, ConnectionTimeoutSeconds: a.ConnectionTimeoutSeconds,
		TroubleshootingURL: a.TroubleshootingUrl, Status: agentStatus(a, replicaSeen, time.Now()), LifecycleState: a.LifecycleState,
		Version: a.Version, FirstConnectedAt: a.FirstConnectedAt, LastConnectedAt: a.LastConnectedAt, DisconnectedAt: a.DisconnectedAt,
		StartedAt: a.StartedAt, ReadyAt: a.ReadyAt, AppHealth: map[string]string{}}
	_ = json.Unmarshal(a.Apps, &ag.Apps)
	_ = json.Unmarshal(a.Scripts, &ag.Scripts)
	_ = json.Unmarshal(a.Metadata, &ag.Metadata)
	_ = json.Unmarshal(a.AppHealth, &ag.AppHealth)
	ag.DisplayApps, ag.Order = provisioner.DefaultDisplayApps, a.DisplayOrder
	if len(a.DisplayApps) > 2 { // agents of builds before display_apps was kept have {}
		_ = json.Unmarshal(a.DisplayApps, &ag.DisplayApps)
	}
	return ag
}
