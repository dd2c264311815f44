// Package provisioner is the API provisioner workers use, and the one admins watch them with. Workers
// authenticate with a pre-shared key to ask for work (acquire); the server claims a River job for them
// and hands it over with a job token (a ticket for that job and attempt), which authenticates the
// job's heartbeats, logs and result. Workers never touch the database.
package provisioner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/riverclaim"
	"github.com/hearthdev/hearth/internal/seal"
	"github.com/hearthdev/hearth/internal/tickets"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// NotifyChannel carries the queue name of every provisioner job that becomes available.
const NotifyChannel = provisioning.NotifyChannel

// KeyHeader carries a worker's pre-shared key.
const KeyHeader = "Hearth-Provisioner-Key"

// Deps are what the resource needs.
type Deps struct {
	DB       *db.DB
	River    *river.Client[pgx.Tx]
	Claimer  *riverclaim.Claimer
	Listener *pgnotify.Listener
	Tickets  *tickets.Signer
	Logger   *slog.Logger
	// Keys are the accepted pre-shared keys; none refuses every worker.
	Keys *provisioning.Keys
	// LeaseTime is how long a job survives its worker's silence (default 30 s).
	LeaseTime time.Duration
	// CancelGrace is how long a worker waits after SIGINT before it kills Terraform (default 60 s).
	CancelGrace time.Duration
	// Security is the requirement of user-authenticated operations.
	Security []map[string][]string
	// Boxes open template variable values and seal Terraform state.
	Boxes seal.Boxes
	// ExternalAuth gives builds the owner's external auth tokens (data "coder_external_auth").
	ExternalAuth *externalauth.Links
}

type handlers struct {
	Deps
	claims  *claims
	modules *moduleHosts
	seen    *struct {
		mu      sync.Mutex
		workers map[string]seenWorker
		byID    map[uuid.UUID]string // worker ID -> key in workers
	}
}

// recheckEvery is how often a waiting acquire looks for work it was not notified of.
const recheckEvery = 5 * time.Second

// workerTraffic keeps workers' calls out of the audit log: the job's state and logs record them.
var workerTraffic = map[string]any{"audit": false}

// Register adds the operations.
func Register(api huma.API, d Deps) {
	if d.LeaseTime == 0 {
		d.LeaseTime = 30 * time.Second
	}
	if d.CancelGrace == 0 {
		d.CancelGrace = 60 * time.Second
	}
	h := handlers{Deps: d, modules: &moduleHosts{}}
	h.claims = &claims{prepare: h.prepare, db: d.DB, claimer: d.Claimer}
	h.seen = &struct {
		mu      sync.Mutex
		workers map[string]seenWorker
		byID    map[uuid.UUID]string
	}{workers: map[string]seenWorker{}, byID: map[uuid.UUID]string{}}
	keySec := []map[string][]string{{"provisioner-key": {}}}
	jobSec := []map[string][]string{{"job-token": {}}}
	huma.Register(api, huma.Operation{
		OperationID: "acquire-provisioner-job",
		Method:      http.MethodPost,
		Path:        "/api/v2/provisioners/acquire",
		Summary:     "Wait for a provisioner job",
		Description: "For provisioner workers, with a pre-shared key. Registers the worker, then returns a job its tags match as soon as one exists (200), or 204 after wait_seconds.",
		Tags:        []string{"Provisioners"},
		Security:    keySec,
		Errors:      []int{http.StatusUnauthorized},
		Metadata:    workerTraffic,
		Responses:   noJob("No job came within wait_seconds."),
	}, h.acquire)
	jobOp := func(id, path, summary string) huma.Operation {
		return huma.Operation{OperationID: id, Method: http.MethodPost, Path: "/api/v2/provisioners/jobs/{job}/" + path,
			Summary: summary, Description: "For the worker running the job, with its job token.", Tags: []string{"Provisioners"},
			Security: jobSec, Errors: []int{http.StatusUnauthorized, http.StatusConflict}, Metadata: workerTraffic}
	}
	huma.Register(api, jobOp("heartbeat-provisioner-job", "heartbeat", "Keep a job's lease"), h.heartbeat)
	huma.Register(api, jobOp("append-provisioner-job-logs", "logs", "Append a job's log lines"), h.appendLogs)
	report := func(id, path, summary string) huma.Operation {
		op := jobOp(id, path, summary)
		op.Description += " With next, the answer carries the worker's next job when one is waiting (200), as acquire would."
		op.Responses = noJob("The result is stored; no next job was asked for or waiting.")
		return op
	}
	huma.Register(api, report("complete-provisioner-job", "complete", "Report a job's result"), h.complete)
	huma.Register(api, report("fail-provisioner-job", "fail", "Report that a job failed or was canceled"), h.fail)
	registerAdmin(api, h)
}

// noJob documents the 204 of operations that answer with a job or nothing.
func noJob(why string) map[string]*huma.Response {
	return map[string]*huma.Response{"204": {Description: why}}
}

type acquireInput struct {
	Key  string `header:"Hearth-Provisioner-Key" doc:"A pre-shared key the server accepts."`
	Body struct {
		Name        string            `json:"name" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Identifies the worker across restarts."`
		Version     string            `json:"version,omitempty" maxLength:"64"`
		Tags        map[string]string `json:"tags,omitempty" maxProperties:"6" doc:"The worker takes jobs whose tags it all has; untagged workers take only untagged jobs."`
		WaitSeconds int               `json:"wait_seconds,omitempty" minimum:"0" maximum:"60" doc:"How long to wait for a job; 0 answers at once."`
		Builtin     bool              `json:"builtin,omitempty" doc:"Set by the server's built-in workers."`
	}
}

// Job is a job as a worker gets it: everything it needs to run it.
type Job struct {
	ID      int64  `json:"id"`
	Attempt int    `json:"attempt"`
	Kind    string `json:"kind" enum:"template_version_import,workspace_build"`
	// Token authenticates the job's heartbeats, logs and result; renewed by every heartbeat.
	Token            string `json:"token"`
	HeartbeatSeconds int    `json:"heartbeat_seconds" doc:"Heartbeat at least this often, or lose the job."`
	CancelGraceSecs  int    `json:"cancel_grace_seconds" doc:"After a cancellation, how long Terraform gets after SIGINT before SIGKILL."`
	// Template is the source to run.
	Template struct {
		Archive     []byte `json:"archive" doc:"The template archive (base64)."`
		ContentType string `json:"content_type" enum:"application/x-tar,application/zip"`
	} `json:"template"`
	Variables         []Variable `json:"variables" doc:"Values of the template's Terraform variables."`
	TemplateVersionID string     `json:"template_version_id"`
	// Build is set for workspace_build jobs.
	Build *BuildJob `json:"build,omitempty"`
	// ModuleHosts are the registry hosts whose modules Hearth serves: the worker points Terraform's
	// module registry of each at the server (RegistryPath), authenticated with the job token.
	ModuleHosts []string `json:"module_hosts"`
}

// Variable is a Terraform variable's value.
type Variable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// AcquireOutput is a job, or nothing (204).
type AcquireOutput struct {
	Status int
	Body   *Job
}

func (h handlers) acquire(ctx context.Context, in *acquireInput) (*AcquireOutput, error) {
	if !h.Keys.Valid(in.Key) {
		h.Logger.WarnContext(ctx, "provisioner: refused a worker with a wrong or missing key", "worker", in.Body.Name)
		return nil, huma.Error401Unauthorized("Send a pre-shared key the server accepts as " + KeyHeader + ".")
	}
	for k, v := range in.Body.Tags {
		if strings.ContainsAny(k+v, "=,") || k == "" {
			return nil, huma.Error422UnprocessableEntity("Tag keys and values cannot contain = or , and keys cannot be empty.",
				&huma.ErrorDetail{Location: "body.tags." + k, Message: "invalid tag", Value: v})
		}
	}
	worker, err := h.register(ctx, in.Body.Name, in.Body.Version, in.Body.Tags, in.Body.Builtin)
	if err != nil {
		return nil, err
	}
	queues := jobargs.ProvisionerQueues(in.Body.Tags)
	wait, cancel := context.WithTimeout(ctx, time.Duration(in.Body.WaitSeconds)*time.Second)
	defer cancel()
	for {
		// Subscribe before looking, so a job inserted in between still wakes us.
		sub := h.Listener.Subscribe(queues...)
		job, err := h.claims.claim(ctx, worker, queues)
		if err != nil || job != nil {
			sub.Close()
			if err != nil {
				return nil, err
			}
			return &AcquireOutput{Status: http.StatusOK, Body: job}, nil
		}
		select {
		case <-sub.C():
		case <-time.After(recheckEvery):
			// Jobs that become available without a notification (River's scheduler moving a
			// scheduled job, say) are found here; everything else wakes us at once.
		case <-wait.Done():
			sub.Close()
			return &AcquireOutput{Status: http.StatusNoContent}, nil
		}
		sub.Close()
	}
}

// register records a worker and when it was last seen, at most every registerEvery per worker while
// nothing about it changes, so busy workers do not write a row per job.
func (h handlers) register(ctx context.Context, name, version string, tagMap map[string]string, builtin bool) (dbsqlc.ProvisionerWorker, error) {
	tags, _ := json.Marshal(orEmpty(tagMap))
	key := name + "\x00" + version + "\x00" + string(tags) + "\x00" + strconv.FormatBool(builtin)
	h.seen.mu.Lock()
	s, ok := h.seen.workers[key]
	h.seen.mu.Unlock()
	if ok && time.Since(s.at) < registerEvery {
		return s.row, nil
	}
	row, err := h.DB.UpsertProvisionerWorker(ctx, dbsqlc.UpsertProvisionerWorkerParams{Name: name, Version: version, Tags: tags, Builtin: builtin})
	if err != nil {
		return row, err
	}
	h.seen.mu.Lock()
	if len(h.seen.workers) > 10_000 {
		clear(h.seen.workers)
		clear(h.seen.byID)
	}
	h.seen.workers[key] = seenWorker{row: row, at: time.Now()}
	h.seen.byID[row.ID] = key
	h.seen.mu.Unlock()
	return row, nil
}

// registered is the worker a job token names, as register last saw it (or the database has it),
// with its last-seen time kept fresh the same way: a busy worker that takes its next job with each
// result never calls acquire, and must not look gone.
func (h handlers) registered(ctx context.Context, id uuid.UUID) (dbsqlc.ProvisionerWorker, error) {
	h.seen.mu.Lock()
	s, ok := h.seen.workers[h.seen.byID[id]]
	h.seen.mu.Unlock()
	row := s.row
	if !ok {
		var err error
		if row, err = h.DB.GetProvisionerWorker(ctx, id); err != nil {
			return row, db.Translate(err)
		}
	}
	var tags map[string]string
	_ = json.Unmarshal(row.Tags, &tags)
	return h.register(ctx, row.Name, row.Version, tags, row.Builtin)
}

// registerEvery bounds how stale a worker's last-seen time may be.
const registerEvery = 10 * time.Second

type seenWorker struct {
	row dbsqlc.ProvisionerWorker
	at  time.Time
}

// lease is a claimed job's lease: to whom, until when.
type lease struct {
	JobID     int64
	Attempt   int32
	WorkerID  uuid.UUID
	ExpiresAt time.Time
}

// prepare starts the jobs one claim took, rows[i] for workers[i], in tx: their leases, their records
// (the versions importing, the builds running), and everything the workers need. The imports are
// started together, in one statement.
func (h handlers) prepare(ctx context.Context, tx db.Tx, workers []dbsqlc.ProvisionerWorker, rows []*riverclaim.Job) ([]*Job, error) {
	expires := time.Now().Add(h.LeaseTime)
	hosts, err := h.modules.get(ctx, tx.Queries)
	if err != nil {
		return nil, err
	}
	jobs := make([]*Job, len(rows))
	imports := dbsqlc.StartTemplateVersionImportsParams{ExpiresAt: expires}
	byID := map[int64]*Job{}
	for i, row := range rows {
		job := &Job{ID: row.ID, Attempt: row.Attempt, Kind: row.Kind, Variables: []Variable{}, ModuleHosts: append([]string{}, hosts...),
			HeartbeatSeconds: max(1, int(h.LeaseTime.Seconds()/3)), CancelGraceSecs: int(h.CancelGrace.Seconds())}
		jobs[i], byID[row.ID] = job, job
		l := lease{JobID: row.ID, Attempt: int32(row.Attempt), WorkerID: workers[i].ID, ExpiresAt: expires} //nolint:gosec // attempts are small
		switch row.Kind {
		case jobargs.TemplateVersionImport{}.Kind():
			var args jobargs.TemplateVersionImport
			if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
				return nil, fmt.Errorf("provisioner: job %d: %w", row.ID, err)
			}
			id, err := uuid.Parse(args.VersionID)
			if err != nil {
				return nil, fmt.Errorf("provisioner: job %d: %w", row.ID, err)
			}
			imports.JobIds, imports.Attempts = append(imports.JobIds, l.JobID), append(imports.Attempts, l.Attempt)
			imports.WorkerIds, imports.VersionIds = append(imports.WorkerIds, l.WorkerID), append(imports.VersionIds, id)
		case jobargs.WorkspaceBuild{}.Kind():
			if err := h.claimBuild(ctx, tx, row, l, job); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("provisioner: job %d has unknown kind %q", row.ID, row.Kind)
		}
		var err error
		if job.Token, err = h.token(workers[i].ID, row.ID, row.Attempt); err != nil {
			return nil, err
		}
	}
	if len(imports.JobIds) == 0 {
		return jobs, nil
	}
	versions, err := tx.StartTemplateVersionImports(ctx, imports)
	if err != nil {
		return nil, fmt.Errorf("provisioner: start imports: %w", err)
	}
	if len(versions) != len(imports.JobIds) {
		return nil, fmt.Errorf("provisioner: start imports: %d of %d template versions found", len(versions), len(imports.JobIds))
	}
	for _, v := range versions {
		job := byID[v.JobID]
		job.TemplateVersionID = v.ID.String()
		job.Template.Archive, job.Template.ContentType = v.Data, v.ContentType
		if job.Variables, err = h.variables(v.ID, v.VariableValues); err != nil {
			return nil, fmt.Errorf("provisioner: job %d: %w", v.JobID, err)
		}
	}
	return jobs, nil
}

func (h handlers) token(worker uuid.UUID, job int64, attempt int) (string, error) {
	return h.Tickets.SignLocal(tickets.KindJob, worker.String(), fmt.Sprintf("%d/%d", job, attempt), tickets.MaxTTL)
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// jobAuth is a job token's authority: one attempt of one job, by one worker.
type jobAuth struct {
	job     int64
	attempt int
	worker  uuid.UUID
}

// JobPath names a job and carries its job token.
type JobPath struct {
	Job           int64  `path:"job"`
	Authorization string `header:"Authorization" doc:"Bearer and the job token."`
}

// authorize checks the job token against the job in the path.
// A token past its expiry by at most grace is still accepted (results only).
func (h handlers) authorize(p JobPath, grace time.Duration) (jobAuth, error) {
	raw, _ := strings.CutPrefix(p.Authorization, "Bearer ")
	c, err := h.Tickets.VerifyLocal(strings.TrimSpace(raw), tickets.KindJob, grace)
	if err != nil {
		return jobAuth{}, huma.Error401Unauthorized("Send this job's job token as Authorization: Bearer.")
	}
	jobS, attemptS, _ := strings.Cut(c.Resource, "/")
	job, _ := strconv.ParseInt(jobS, 10, 64)
	attempt, _ := strconv.Atoi(attemptS)
	worker, _ := uuid.Parse(c.Subject)
	if job != p.Job {
		return jobAuth{}, huma.Error401Unauthorized("The job token is for another job.")
	}
	return jobAuth{job: job, attempt: attempt, worker: worker}, nil
}

// errLost answers a worker whose attempt is no longer the job's: it must stop.
func errLost() error {
	return huma.Error409Conflict("The job is no longer yours: it finished, was canceled, or was given to another worker after your lease ran out. Stop working on it.")
}

type heartbeatInput struct {
	JobPath
	Body *struct {
		ResultPending bool `json:"result_pending,omitempty" doc:"Terraform has finished and the worker is delivering the result: keep the job until it arrives."`
	} `required:"false"`
}

// HeartbeatOutput tells the worker whether to stop, and renews its token.
type HeartbeatOutput struct {
	Body struct {
		CancelRequested bool   `json:"cancel_requested" doc:"Someone canceled the job: interrupt Terraform and report fail with canceled."`
		Token           string `json:"token" doc:"A renewed job token."`
	}
}

func (h handlers) heartbeat(ctx context.Context, in *heartbeatInput) (*HeartbeatOutput, error) {
	a, err := h.authorize(in.JobPath, 0)
	if err != nil {
		return nil, err
	}
	pending := in.Body != nil && in.Body.ResultPending
	n, err := h.DB.RenewLease(ctx, dbsqlc.RenewLeaseParams{JobID: a.job, Attempt: int32(a.attempt), //nolint:gosec
		ExpiresAt: time.Now().Add(h.LeaseTime), ResultPending: pending})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errLost()
	}
	canceled, err := h.Claimer.CancelRequested(ctx, []int64{a.job})
	if err != nil {
		return nil, err
	}
	out := &HeartbeatOutput{}
	out.Body.CancelRequested = len(canceled) > 0
	if out.Body.Token, err = h.token(a.worker, a.job, a.attempt); err != nil {
		return nil, err
	}
	return out, nil
}

// LogLine is one line a job printed.
type LogLine struct {
	Time   time.Time `json:"time"`
	Stage  string    `json:"stage" enum:"setup,init,plan,apply,cleanup" doc:"What the job was doing."`
	Level  string    `json:"level" enum:"trace,debug,info,warn,error"`
	Output string    `json:"output" maxLength:"65536"`
}

type logsInput struct {
	JobPath
	Body struct {
		Logs []LogLine `json:"logs" maxItems:"1000"`
	}
}

func (h handlers) appendLogs(ctx context.Context, in *logsInput) (*struct{}, error) {
	a, err := h.authorize(in.JobPath, 0)
	if err != nil {
		return nil, err
	}
	p := dbsqlc.InsertJobLogsParams{JobID: a.job}
	for _, l := range in.Body.Logs {
		p.Times = append(p.Times, l.Time)
		p.Stages = append(p.Stages, l.Stage)
		p.Levels = append(p.Levels, l.Level)
		p.Outputs = append(p.Outputs, strings.ToValidUTF8(strings.ReplaceAll(l.Output, "\x00", ""), "?"))
	}
	return nil, h.DB.InTx(ctx, func(tx db.Tx) error {
		if err := tx.InsertJobLogs(ctx, p); err != nil {
			return err
		}
		return pgnotify.Notify(ctx, tx.Raw, provisioning.LogsChannel, strconv.FormatInt(a.job, 10))
	})
}

type completeInput struct {
	JobPath
	Body struct {
		Import *ImportResult `json:"import,omitempty" doc:"The result of a template_version_import job."`
		Build  *BuildResult  `json:"build,omitempty" doc:"The result of a workspace_build job."`
		Next   bool          `json:"next,omitempty" doc:"Also claim the worker's next job, if one is waiting (the answer is then 200 with it, else 204)."`
	}
}

// ResultOutput answers a job's result: nothing (204), or the worker's next job (200) when it asked.
type ResultOutput struct {
	Status int
	Body   *Job
}

func (h handlers) complete(ctx context.Context, in *completeInput) (*ResultOutput, error) {
	var r result
	switch {
	case in.Body.Build != nil:
		r = result{completes: true, build: true, inTx: func(tx db.Tx, a jobAuth) error { return h.completeBuild(ctx, tx, a, in.Body.Build) }}
	case in.Body.Import != nil:
		r = result{completes: true,
			direct: func(a jobAuth) error { return completeImport(ctx, h.DB.Queries, a, in.Body.Import) },
			inTx:   func(tx db.Tx, a jobAuth) error { return completeImport(ctx, tx.Queries, a, in.Body.Import) }}
	default:
		if _, err := h.authorize(in.JobPath, resultTokenGrace); err != nil {
			return nil, err
		}
		return nil, huma.Error422UnprocessableEntity("Report the job's result: import for a template_version_import job, build for a workspace_build job.",
			&huma.ErrorDetail{Location: "body", Message: "import or build is required"})
	}
	return h.report(ctx, in.JobPath, in.Body.Next, r)
}

// result is a worker's report of how a job ended, stored by inTx (in a transaction of the caller's)
// or, on the busiest path, by direct (its own statement).
type result struct {
	completes bool // a success: a second delivery of it finds the job completed
	build     bool // a workspace build's: a late one counts only while no later build exists
	direct    func(a jobAuth) error
	inTx      func(tx db.Tx, a jobAuth) error
}

// resultTokenGrace is how long after its expiry a job token still carries its job's result: a worker
// that could not reach any replica for longer than a token lives must still deliver what Terraform
// did. The attempt fences the result, so an old token cannot overwrite a newer attempt's.
const resultTokenGrace = 24 * time.Hour

// report authorizes a job's result, stores it, and, when the worker asked for its next job, claims
// one for it: a busy worker makes one request per job. Delivering the same result twice is a no-op,
// and a result that arrives after the job's lease ran out is still recorded (see settleLate).
func (h handlers) report(ctx context.Context, p JobPath, next bool, r result) (*ResultOutput, error) {
	a, err := h.authorize(p, resultTokenGrace)
	if err != nil {
		return nil, err
	}
	if r.direct != nil {
		err = r.direct(a)
	} else {
		err = h.DB.InTx(ctx, func(tx db.Tx) error { return r.inTx(tx, a) })
	}
	if errors.Is(err, riverclaim.ErrNotRunning) {
		err = h.settleLate(ctx, a, r)
	}
	if errors.Is(err, errDuplicate) {
		err = nil
	}
	if errors.Is(err, riverclaim.ErrNotRunning) {
		return nil, errLost()
	}
	if err != nil {
		return nil, err
	}
	var job *Job
	if next {
		worker, err := h.registered(ctx, a.worker)
		if err != nil {
			return nil, err
		}
		var tags map[string]string
		_ = json.Unmarshal(worker.Tags, &tags)
		if job, err = h.claims.claim(ctx, worker, jobargs.ProvisionerQueues(tags)); err != nil {
			return nil, err
		}
	}
	if job == nil {
		return &ResultOutput{Status: http.StatusNoContent}, nil
	}
	return &ResultOutput{Status: http.StatusOK, Body: job}, nil
}

// errDuplicate marks a result that was already stored: the worker's earlier delivery arrived, and
// only its answer was lost.
var errDuplicate = errors.New("provisioner: the result was already stored")

// settleLate stores a result for a job that is no longer running. The same attempt's success that
// is already stored is a duplicate (a no-op). A job that the lease reaper (or a cancellation) ended
// while its worker was cut off, and that no other attempt has claimed since, is put back and settled
// with the worker's result: what Terraform did is what exists. A build's late result counts only
// while the build is still its workspace's latest; after that, or once another attempt took the job,
// it is refused (ErrNotRunning).
func (h handlers) settleLate(ctx context.Context, a jobAuth, r result) error {
	return h.DB.InTx(ctx, func(tx db.Tx) error {
		st, err := tx.GetRiverJobAttempt(ctx, a.job)
		if errors.Is(db.Translate(err), db.ErrNotFound) || (err == nil && int(st.Attempt) != a.attempt) {
			return riverclaim.ErrNotRunning
		}
		if err != nil {
			return err
		}
		switch st.State {
		case "completed":
			if r.completes {
				return errDuplicate
			}
			return riverclaim.ErrNotRunning
		case "running":
			return riverclaim.ErrNotRunning // another delivery of this result is being stored now
		}
		if r.build {
			latest, err := tx.IsLatestBuildOfJob(ctx, &a.job)
			if err != nil {
				return err
			}
			if !latest {
				return riverclaim.ErrNotRunning
			}
		}
		n, err := tx.ReviveRiverJob(ctx, dbsqlc.ReviveRiverJobParams{JobID: a.job, Attempt: int32(a.attempt)}) //nolint:gosec
		if err != nil {
			return err
		}
		if n == 0 {
			return riverclaim.ErrNotRunning
		}
		msg := "the worker's result arrived after the job had ended (" + st.State + "); recorded as the worker reported it"
		if err := tx.InsertJobLogs(ctx, dbsqlc.InsertJobLogsParams{JobID: a.job, Times: []time.Time{time.Now()},
			Stages: []string{"cleanup"}, Levels: []string{"warn"}, Outputs: []string{msg}}); err != nil {
			return err
		}
		h.Logger.WarnContext(ctx, "provisioner: "+msg, "job", a.job, "attempt", a.attempt)
		return r.inTx(tx, a)
	})
}

// completeImport completes an import job, ends its lease and stores what it found in one statement:
// on the busiest path a job costs two round trips, its claim and this.
func completeImport(ctx context.Context, q *dbsqlc.Queries, a jobAuth, res *ImportResult) error {
	params, _ := json.Marshal(orEmptySlice(res.Parameters))
	vars, _ := json.Marshal(orEmptySlice(res.Variables))
	resources, _ := json.Marshal(orEmptySlice(res.Resources))
	presets, _ := json.Marshal(orEmptySlice(res.Presets))
	extAuth, _ := json.Marshal(orEmptySlice(res.ExternalAuth))
	n, err := q.CompleteTemplateVersionImport(ctx, dbsqlc.CompleteTemplateVersionImportParams{JobID: a.job, Attempt: int32(a.attempt), //nolint:gosec
		Parameters: params, Variables: vars, Resources: resources, Presets: presets, ExternalAuth: extAuth})
	if err == nil && n != 1 {
		return riverclaim.ErrNotRunning
	}
	return err
}

func orEmptySlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type failInput struct {
	JobPath
	Body struct {
		Error       string       `json:"error" maxLength:"65536" doc:"What went wrong, for the user."`
		Diagnostics []Diagnostic `json:"diagnostics,omitempty" maxItems:"50" doc:"Terraform's diagnostics, when it gave any: each with its file and line when known."`
		Canceled    bool         `json:"canceled,omitempty" doc:"The job stopped because it was canceled."`
		State       []byte       `json:"state,omitempty" doc:"A workspace build's Terraform state as the failed apply left it (base64), so the next build starts from what exists."`
		Next        bool         `json:"next,omitempty" doc:"Also claim the worker's next job, if one is waiting (the answer is then 200 with it, else 204)."`
	}
}

func (h handlers) fail(ctx context.Context, in *failInput) (*ResultOutput, error) {
	outcome := riverclaim.Discarded // Terraform failures are not retried: the same input fails the same way
	if in.Body.Canceled {
		outcome = riverclaim.Cancelled
	}
	return h.report(ctx, in.JobPath, in.Body.Next, result{build: len(in.Body.State) > 0, inTx: func(tx db.Tx, a jobAuth) error {
		if err := provisioning.EndJob(ctx, tx, h.Claimer, h.River, a.job, a.attempt, outcome, in.Body.Error); err != nil {
			return err
		}
		if len(in.Body.Diagnostics) > 0 {
			diags, _ := json.Marshal(in.Body.Diagnostics)
			if err := tx.SetTemplateVersionDiagnosticsByJob(ctx, dbsqlc.SetTemplateVersionDiagnosticsByJobParams{Diagnostics: diags, JobID: &a.job}); err != nil {
				return err
			}
			if err := tx.SetWorkspaceBuildDiagnosticsByJob(ctx, dbsqlc.SetWorkspaceBuildDiagnosticsByJobParams{Diagnostics: diags, JobID: &a.job}); err != nil {
				return err
			}
		}
		if len(in.Body.State) == 0 {
			return nil
		}
		b, err := tx.GetWorkspaceBuildByJob(ctx, &a.job)
		if err != nil {
			return err
		}
		return tx.SetWorkspaceBuildState(ctx, dbsqlc.SetWorkspaceBuildStateParams{ID: b.ID, State: h.Boxes.State.Seal(in.Body.State, b.ID.String())})
	}})
}
