// Package health serves the deep health check: whether the database answers, the job queue runs and
// the schema is at the version this binary expects.
package health

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/db"
)

// Deps are what the health check looks at.
type Deps struct {
	DB *db.DB
	// Queue reports whether the River client is running (nil error) and its schema version.
	Queue  Queue
	Logger *slog.Logger
}

// Queue is the job queue as seen by the health check.
type Queue interface {
	Healthy(ctx context.Context) error
	SchemaVersion(ctx context.Context) (int, error)
}

// Component is the health of one dependency.
type Component struct {
	Healthy   bool    `json:"healthy" doc:"Whether the component works."`
	LatencyMS float64 `json:"latency_ms" doc:"How long the check took, in milliseconds."`
	Error     string  `json:"error,omitempty" doc:"Why the component is unhealthy; details are in the server's log."`
}

// Report is the health of the server and its dependencies.
type Report struct {
	Status       string    `json:"status" enum:"healthy,unhealthy" doc:"healthy when every component is."`
	Version      string    `json:"version" doc:"The server's version." example:"v0.1.0"`
	DeploymentID string    `json:"deployment_id" doc:"The ID of this Hearth deployment, the same on every replica." format:"uuid"`
	Database     Component `json:"database" doc:"PostgreSQL."`
	Queue        Component `json:"queue" doc:"The River job queue client of this replica."`
	Schema       Schema    `json:"schema" doc:"Applied migration versions."`
}

// Schema tells the applied migration versions.
type Schema struct {
	Hearth int `json:"hearth" doc:"Newest applied Hearth migration."`
	River  int `json:"river" doc:"Newest applied River migration."`
}

// Output is the health response; the status is 503 when anything is unhealthy.
type Output struct {
	Status int
	Body   Report
}

// Register adds the health operation.
func Register(api huma.API, deps Deps) {
	huma.Register(api, huma.Operation{
		OperationID: "get-health",
		Method:      http.MethodGet,
		Path:        "/api/v2/health",
		Summary:     "Check the server's health",
		Description: "Checks PostgreSQL, the job queue and the schema version. Answers 200 when all are healthy and 503 otherwise; " +
			"for a cheap liveness probe use /healthz.",
		Tags: []string{"Health"},
		Responses: map[string]*huma.Response{
			"503": {
				Description: "Something is unhealthy; the report says what.",
				Content: map[string]*huma.MediaType{"application/json": {
					Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Report](), true, ""),
				}},
			},
		},
	}, func(ctx context.Context, _ *struct{}) (*Output, error) {
		return check(ctx, deps), nil
	})
}

func check(ctx context.Context, deps Deps) *Output {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r := Report{Version: buildinfo.Version()}

	start := time.Now()
	var err error
	r.DeploymentID, err = deps.DB.GetSiteConfig(ctx, "deployment_id")
	if err == nil {
		r.Schema.Hearth, err = db.SchemaVersion(ctx, deps.DB.Pool)
	}
	r.Database = component(ctx, deps.Logger, "database", start, err)

	start = time.Now()
	err = deps.Queue.Healthy(ctx)
	if err == nil {
		r.Schema.River, err = deps.Queue.SchemaVersion(ctx)
	}
	r.Queue = component(ctx, deps.Logger, "queue", start, err)

	out := &Output{Status: http.StatusOK, Body: r}
	out.Body.Status = "healthy"
	if !r.Database.Healthy || !r.Queue.Healthy {
		out.Status = http.StatusServiceUnavailable
		out.Body.Status = "unhealthy"
	}
	return out
}

// component reports err without its text, which may name internal hosts; the log has it.
func component(ctx context.Context, log *slog.Logger, name string, start time.Time, err error) Component {
	c := Component{Healthy: err == nil, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		c.Error = name + " check failed"
		log.WarnContext(ctx, "health check failed", "component", name, "error", err)
	}
	return c
}
