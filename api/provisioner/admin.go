package provisioner

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/riverqueue/river/rivertype"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

func registerAdmin(api huma.API, h handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "list-provisioners",
		Method:      http.MethodGet,
		Path:        "/api/v2/provisioners",
		Summary:     "List provisioner workers",
		Description: "Every worker that has asked for work, with when it last did and the job it runs. For template admins.",
		Tags:        []string{"Provisioners"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, h.listWorkers)
	huma.Register(api, huma.Operation{
		OperationID: "list-provisioner-jobs",
		Method:      http.MethodGet,
		Path:        "/api/v2/provisioners/jobs",
		Summary:     "List waiting and running provisioner jobs",
		Description: "With each waiting job's position in its queue (one queue per tag set). For template admins.",
		Tags:        []string{"Provisioners"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, h.listJobs)
	huma.Register(api, huma.Operation{
		OperationID: "cancel-provisioner-job",
		Method:      http.MethodPost,
		Path:        "/api/v2/provisioners/jobs/{job}/cancel",
		Summary:     "Cancel a provisioner job",
		Description: "A waiting job ends at once; a running one is interrupted (SIGINT to Terraform, SIGKILL after the grace period) at its worker's next heartbeat. Logs are kept. For template admins.",
		Tags:        []string{"Provisioners"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, h.cancel)
}

// Worker is a provisioner worker as listed.
type Worker struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Tags         map[string]string `json:"tags"`
	Builtin      bool              `json:"builtin"`
	LastSeenAt   time.Time         `json:"last_seen_at"`
	CurrentJobID *int64            `json:"current_job_id,omitempty"`
}

// WorkersOutput lists workers.
type WorkersOutput struct {
	Body struct {
		Workers []Worker `json:"workers"`
	}
}

func (h handlers) listWorkers(ctx context.Context, _ *struct{}) (*WorkersOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageTemplates); err != nil {
		return nil, err
	}
	rows, err := h.DB.ListProvisionerWorkers(ctx)
	if err != nil {
		return nil, err
	}
	out := &WorkersOutput{}
	out.Body.Workers = make([]Worker, 0, len(rows))
	for _, r := range rows {
		w := Worker{Name: r.Name, Version: r.Version, Tags: map[string]string{}, Builtin: r.Builtin, LastSeenAt: r.LastSeenAt, CurrentJobID: r.CurrentJobID}
		_ = json.Unmarshal(r.Tags, &w.Tags) // written by us from a map
		out.Body.Workers = append(out.Body.Workers, w)
	}
	return out, nil
}

// QueuedJob is a waiting or running job.
type QueuedJob struct {
	ID        int64             `json:"id"`
	Kind      string            `json:"kind"`
	Tags      map[string]string `json:"tags"`
	State     string            `json:"state" doc:"available (waiting), running, retryable or scheduled, as River names them."`
	Attempt   int               `json:"attempt"`
	CreatedAt time.Time         `json:"created_at"`
	Position  int               `json:"queue_position" doc:"1 for the next job its tag set hands out; 0 unless waiting."`
	// NoWorker flags a waiting job that no worker seen in the last minute would take.
	NoWorker bool `json:"no_matching_worker" doc:"Waiting, and no worker seen in the last minute has all its tags."`
}

// JobsOutput lists jobs.
type JobsOutput struct {
	Body struct {
		Jobs []QueuedJob `json:"jobs"`
	}
}

func (h handlers) listJobs(ctx context.Context, _ *struct{}) (*JobsOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageTemplates); err != nil {
		return nil, err
	}
	s, err := provisioning.Snapshot(ctx, h.DB)
	if err != nil {
		return nil, err
	}
	out := &JobsOutput{}
	out.Body.Jobs = make([]QueuedJob, 0, len(s.Jobs))
	for _, r := range s.Jobs {
		out.Body.Jobs = append(out.Body.Jobs, QueuedJob{ID: r.ID, Kind: r.Kind, Tags: provisioning.TagsOf(r), State: r.State,
			Attempt: r.Attempt, CreatedAt: r.CreatedAt, Position: r.Position, NoWorker: r.State == "available" && !s.Matched(provisioning.TagsOf(r))})
	}
	return out, nil
}

type cancelInput struct {
	Job int64 `path:"job"`
}

func (h handlers) cancel(ctx context.Context, in *cancelInput) (*struct{}, error) {
	audit.Target(ctx, audit.Resource{Type: "provisioner_job", ID: strconv.FormatInt(in.Job, 10)})
	if err := authz.Authorize(ctx, authz.ManageTemplates); err != nil {
		return nil, err
	}
	notFound := huma.Error404NotFound("No provisioner job with this ID.")
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		job, err := h.River.JobGetTx(ctx, tx.Raw, in.Job)
		if errors.Is(err, rivertype.ErrNotFound) || (err == nil && !strings.HasPrefix(job.Queue, jobargs.QueueProvisioner)) {
			return notFound
		}
		if err != nil {
			return err
		}
		if job.FinalizedAt != nil {
			return huma.Error409Conflict("The job has already ended (" + string(job.State) + ").")
		}
		if job, err = h.River.JobCancelTx(ctx, tx.Raw, in.Job); err != nil {
			return err
		}
		if err := provisioning.MarkCanceled(ctx, tx, in.Job, job.State); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "provisioner_job", ID: strconv.FormatInt(in.Job, 10), Name: job.Kind}, nil)
	})
	return nil, err
}
