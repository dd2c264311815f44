package template

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/archive"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coderprovider"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/seal"
)

func registerDynamic(api huma.API, h handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "evaluate-dynamic-parameters",
		Method:      http.MethodPost,
		Path:        "/api/v2/template-versions/{id}/dynamic-parameters/evaluate",
		Summary:     "Evaluate a version's parameters against values chosen so far",
		Description: "Options, defaults, validation and presence (count) of parameters that depend on other parameters, the owner or variables, evaluated without running Terraform, for a form to call as the user types. dynamic is false when every parameter is literal (the version's parameters are then the answer).",
		Tags:        []string{"Templates"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
		// A read, sent as POST for its body: nothing changes, nothing to audit.
		Metadata: map[string]any{"audit": false},
	}, h.evaluate)
}

type evaluateInput struct {
	VersionPath
	Body struct {
		Values    map[string]string `json:"values" maxProperties:"200" doc:"Chosen values by parameter name; the others take their (evaluated) defaults."`
		Workspace string            `json:"workspace_name,omitempty" maxLength:"32" doc:"The workspace's name, for templates that use it."`
	}
}

// EvaluateOutput is the parameters as the values make them.
type EvaluateOutput struct {
	Body struct {
		Dynamic    bool                          `json:"dynamic"`
		Parameters []coderprovider.EvalParameter `json:"parameters"`
	}
}

func (h handlers) evaluate(ctx context.Context, in *evaluateInput) (*EvaluateOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	v, err := h.version(ctx, h.DB.Queries, in.ID, authz.UseTemplate)
	if err != nil {
		return nil, err
	}
	dynamic, params, err := Evaluate(ctx, h.DB.Queries, h.Boxes.Variables, v, a.UserID, in.Body.Workspace, in.Body.Values)
	if err != nil {
		return nil, err
	}
	out := &EvaluateOutput{}
	out.Body.Dynamic, out.Body.Parameters = dynamic, params
	return out, nil
}

// Evaluate evaluates a version's parameters for an owner and the values chosen so far. dynamic is
// false, and params nil, when the parameters are literal: the import's are then exact.
func Evaluate(ctx context.Context, q *dbsqlc.Queries, variables *seal.Box, v dbsqlc.TemplateVersion, owner uuid.UUID, workspace string,
	values map[string]string) (dynamic bool, params []coderprovider.EvalParameter, err error) {
	p, err := parsed(ctx, q, v.FileHash)
	if err != nil || !p.Dynamic() {
		return false, nil, err
	}
	in, err := evalInput(ctx, q, variables, v, owner, values)
	if err != nil {
		return false, nil, err
	}
	in.Workspace = workspace
	return true, p.Evaluate(in), nil
}

// ClaimedAgentEnv is, for a prebuilt workspace of version v that owner claims (named workspace,
// with the build's parameter values), each agent's env as a build for the new owner would write it,
// by agent name: the entries that can be known without running Terraform (see
// coderprovider.Parsed.AgentEnv).
func ClaimedAgentEnv(ctx context.Context, q *dbsqlc.Queries, variables *seal.Box, v dbsqlc.TemplateVersion, owner uuid.UUID,
	workspace dbsqlc.Workspace, values map[string]string) (map[string]map[string]string, error) {
	p, err := parsed(ctx, q, v.FileHash)
	if err != nil {
		return nil, err
	}
	in, err := evalInput(ctx, q, variables, v, owner, values)
	if err != nil {
		return nil, err
	}
	in.Workspace, in.WorkspaceID, in.Claim = workspace.Name, workspace.ID.String(), true
	return p.AgentEnv(in), nil
}

// evalInput is what a version is evaluated with for an owner: the owner as the template sees it,
// the version's variables and the values chosen.
func evalInput(ctx context.Context, q *dbsqlc.Queries, variables *seal.Box, v dbsqlc.TemplateVersion, owner uuid.UUID,
	values map[string]string) (coderprovider.EvalInput, error) {
	in := coderprovider.EvalInput{Values: values, Variables: map[string]string{}}
	if u, err := q.GetUserByID(ctx, owner); err == nil {
		in.Owner = coderprovider.EvalOwner{ID: u.ID.String(), Name: u.Username, FullName: u.Name, Email: u.Email, Groups: []string{}}
		if in.Owner.Groups, err = q.ListUserGroupNames(ctx, u.ID); err != nil {
			return in, err
		}
	}
	if len(v.VariableValues) > 0 && variables != nil {
		if plain, err := variables.Open(v.VariableValues, v.ID.String()); err == nil {
			var vals []VariableValue
			_ = json.Unmarshal(plain, &vals)
			for _, val := range vals {
				in.Variables[val.Name] = val.Value
			}
		}
	}
	return in, nil
}

// parsedCache keeps the parsed source of recent archives: a form evaluates on every keystroke.
var parsedCache = struct {
	sync.Mutex
	m     map[string]*coderprovider.Parsed
	order []string
}{m: map[string]*coderprovider.Parsed{}}

const parsedCacheSize = 64

func parsed(ctx context.Context, q *dbsqlc.Queries, hash []byte) (*coderprovider.Parsed, error) {
	key := hex.EncodeToString(hash)
	parsedCache.Lock()
	p, ok := parsedCache.m[key]
	parsedCache.Unlock()
	if ok {
		return p, nil
	}
	f, err := q.GetFile(ctx, hash)
	if err != nil {
		return nil, db.Translate(err)
	}
	// An archive that cannot be read has no dynamic parameters to speak of: its import says what is
	// wrong with it.
	files, _ := archive.Read(f.Data, f.ContentType, coderprovider.IsSource)
	p = coderprovider.Parse(files)
	parsedCache.Lock()
	defer parsedCache.Unlock()
	if _, ok := parsedCache.m[key]; !ok {
		parsedCache.m[key] = p
		parsedCache.order = append(parsedCache.order, key)
		if len(parsedCache.order) > parsedCacheSize {
			delete(parsedCache.m, parsedCache.order[0])
			parsedCache.order = parsedCache.order[1:]
		}
	}
	return p, nil
}
