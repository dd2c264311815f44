package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/db"
)

// AgentTokenHeader carries a workspace agent's token: the coder_agent token of its build.
const AgentTokenHeader = "Hearth-Agent-Token"

func registerAgent(api huma.API, h handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "get-workspace-agent-manifest",
		Method:      http.MethodGet,
		Path:        "/api/v2/workspaceagents/me/manifest",
		Summary:     "Get the calling agent's manifest",
		Description: "For workspace agents, with their token: who they are and what to run (directory, environment, scripts, apps, metadata). A token of a build that is no longer its workspace's latest is refused.",
		Tags:        []string{"Agents"},
		Security:    []map[string][]string{{"agent-token": {}}},
		Errors:      []int{http.StatusUnauthorized},
		Metadata:    map[string]any{"audit": false},
	}, h.manifest)
}

type manifestInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
}

// Manifest is what an agent needs to know about itself.
type Manifest struct {
	AgentID       uuid.UUID                   `json:"agent_id"`
	AgentName     string                      `json:"agent_name"`
	WorkspaceID   uuid.UUID                   `json:"workspace_id"`
	WorkspaceName string                      `json:"workspace_name"`
	OwnerID       uuid.UUID                   `json:"owner_id"`
	Directory     string                      `json:"directory"`
	Env           map[string]string           `json:"env"`
	Scripts       []provisioner.Script        `json:"scripts"`
	Apps          []provisioner.App           `json:"apps"`
	Metadata      []provisioner.AgentMetadata `json:"metadata"`
	MOTDFile      string                      `json:"motd_file"`
}

// ManifestOutput is an agent's manifest.
type ManifestOutput struct {
	Body Manifest
}

func (h handlers) manifest(ctx context.Context, in *manifestInput) (*ManifestOutput, error) {
	if in.Token == "" {
		return nil, huma.Error401Unauthorized("Send the agent's token as " + AgentTokenHeader + ".")
	}
	sum := sha256.Sum256([]byte(in.Token))
	a, err := h.DB.GetWorkspaceAgentByToken(ctx, sum[:])
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, huma.Error401Unauthorized("The agent token is not one of a current workspace build's agents.")
	}
	if err != nil {
		return nil, err
	}
	m := Manifest{AgentID: a.ID, AgentName: a.Name, WorkspaceID: a.WorkspaceID, WorkspaceName: a.WorkspaceName, OwnerID: a.OwnerID,
		Directory: a.Directory, Env: map[string]string{}, Scripts: []provisioner.Script{}, Apps: []provisioner.App{},
		Metadata: []provisioner.AgentMetadata{}, MOTDFile: a.MotdFile}
	// All written by us.
	_ = json.Unmarshal(a.Env, &m.Env)
	_ = json.Unmarshal(a.Scripts, &m.Scripts)
	_ = json.Unmarshal(a.Apps, &m.Apps)
	_ = json.Unmarshal(a.Metadata, &m.Metadata)
	return &ManifestOutput{Body: m}, nil
}
