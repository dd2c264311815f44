// Package provisioner is the provisioner worker: it asks the control plane for jobs with a pre-shared
// key, runs Terraform for them in fresh directories, streams their logs, heartbeats, and reports the
// results. It never touches PostgreSQL and talks to the control plane only through the generated
// client (checked by deps_test.go). The server's built-in workers are this same code, calling the
// server's own API.
package provisioner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/client"
)

// Config configures a worker.
type Config struct {
	// URL is the control plane's; Key a pre-shared key it accepts.
	URL string
	Key string
	// Name identifies the worker; Tags decide which jobs it takes.
	Name string
	Tags map[string]string
	// Concurrency is how many jobs it runs at once (default 1).
	Concurrency int
	// Builtin marks the server's own workers.
	Builtin bool
	Runner  Runner
	Logger  *slog.Logger
}

// ErrUnauthorized means the server refused the key: retrying will not help.
var ErrUnauthorized = errors.New("the server refused the provisioner key (401)")

// Run takes and runs jobs until ctx ends. A job running then is interrupted and left to the server,
// which retries it once its lease runs out.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Runner.WorkDir == "" {
		cfg.Runner.WorkDir = filepath.Join(os.TempDir(), "hearth-provisioner")
	}
	if cfg.Runner.Mirror != "" {
		// Terraform runs in each job's directory: a relative mirror would point nowhere.
		abs, err := filepath.Abs(cfg.Runner.Mirror)
		if err != nil {
			return err
		}
		cfg.Runner.Mirror = abs
	}
	if cfg.Runner.AccessURL == "" {
		cfg.Runner.AccessURL = cfg.URL
	}
	c, err := client.Dial(cfg.URL, "", "provisioner")
	if err != nil {
		return err
	}
	w := &worker{cfg: cfg, c: c, log: cfg.Logger.With("worker", cfg.Name)}
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Concurrency)
	for i := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.loop(ctx, i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

type worker struct {
	cfg Config
	c   *client.ClientWithResponses
	log *slog.Logger
}

func (w *worker) loop(ctx context.Context, slot int) error {
	name := w.cfg.Name
	if slot > 0 {
		name = fmt.Sprintf("%s-%d", w.cfg.Name, slot)
	}
	wait := int64(30)
	body := client.AcquireProvisionerJobJSONRequestBody{Name: name, Version: ptr(buildinfo.Version()), Tags: &w.cfg.Tags,
		WaitSeconds: &wait, Builtin: &w.cfg.Builtin}
	backoff := time.Second
	for ctx.Err() == nil {
		res, err := w.c.AcquireProvisionerJobWithResponse(ctx, &client.AcquireProvisionerJobParams{HearthProvisionerKey: &w.cfg.Key}, body)
		switch {
		case ctx.Err() != nil:
			return nil //nolint:nilerr // shutting down: the failed request is the one we interrupted
		case err != nil:
			w.log.Warn("provisioner: cannot reach the server; retrying", "error", err, "in", backoff)
		case res.StatusCode() == http.StatusUnauthorized:
			return ErrUnauthorized
		case res.StatusCode() == http.StatusNoContent:
			backoff = time.Second
			continue
		case res.JSON200 != nil:
			backoff = time.Second
			// Each result asks for the next job, so a busy worker makes one request per job.
			for job := res.JSON200; job != nil && ctx.Err() == nil; {
				job = w.run(ctx, job)
			}
			continue
		default:
			w.log.Warn("provisioner: the server did not hand out work; retrying", "error", client.Check(res.HTTPResponse, res.Body), "in", backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	return nil
}

// run runs one job: Terraform under a context that heartbeats cancel, logs shipped in batches, and
// the result reported. It returns the next job, which the server hands over with the result when
// one is waiting.
func (w *worker) run(ctx context.Context, j *client.ProvisionerJob) *client.ProvisionerJob {
	log := w.log.With("job", j.Id, "attempt", j.Attempt, "kind", j.Kind)
	log.Info("provisioner: job started")
	start := time.Now()
	s := &jobSession{w: w, job: j, token: j.Token}
	tfCtx, stopTerraform := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopTerraform(nil)
	logs := newShipper(s)
	hbDone := make(chan struct{})
	var canceled, lost bool
	var mu sync.Mutex
	go func() {
		defer close(hbDone)
		every := time.Duration(max(j.HeartbeatSeconds, 1)) * time.Second
		for {
			select {
			case <-tfCtx.Done():
				return
			case <-ctx.Done():
				stopTerraform(errors.New("the worker is shutting down"))
				return
			case <-time.After(every):
			}
			cancel, gone, err := s.heartbeat(tfCtx)
			switch {
			case gone:
				mu.Lock()
				lost = true
				mu.Unlock()
				stopTerraform(errors.New("the server gave the job to another worker"))
				return
			case cancel:
				mu.Lock()
				canceled = true
				mu.Unlock()
				logs.add("cleanup", "warn", "the job was canceled: interrupting Terraform")
				stopTerraform(errors.New("the job was canceled"))
			case err != nil:
				log.Warn("provisioner: heartbeat failed", "error", err)
			}
		}
	}()

	var result client.CompleteProvisionerJobJSONRequestBody
	var failedState []byte
	var err error
	switch j.Kind {
	case client.ProvisionerJobKindTemplateVersionImport:
		result.Import, err = w.cfg.Runner.Import(tfCtx, j, logs.add)
	case client.ProvisionerJobKindWorkspaceBuild:
		result.Build, failedState, err = w.cfg.Runner.Build(tfCtx, j, logs.add)
	default:
		err = fmt.Errorf("this worker cannot run %s jobs", j.Kind)
	}
	stopTerraform(nil)
	<-hbDone
	logs.close(ctx)
	mu.Lock()
	wasCanceled, wasLost := canceled, lost
	mu.Unlock()
	var next *client.ProvisionerJob
	switch {
	case wasLost || ctx.Err() != nil:
		log.Warn("provisioner: job abandoned", "lost", wasLost)
		return nil
	case err != nil:
		log.Info("provisioner: job failed", "error", err, "canceled", wasCanceled, "elapsed", time.Since(start).Round(time.Millisecond))
		next, err = s.fail(ctx, err.Error(), wasCanceled, failedState)
	default:
		log.Info("provisioner: job succeeded", "elapsed", time.Since(start).Round(time.Millisecond))
		next, err = s.complete(ctx, result)
	}
	if err != nil {
		log.Warn("provisioner: reporting the result failed; the server will retry the job when its lease runs out", "error", err)
	}
	return next
}

// jobSession is the job-token-authenticated side of one job.
type jobSession struct {
	w     *worker
	job   *client.ProvisionerJob
	mu    sync.Mutex
	token string
}

func (s *jobSession) auth() *string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := "Bearer " + s.token
	return &v
}

func (s *jobSession) heartbeat(ctx context.Context) (cancel, gone bool, err error) {
	res, err := s.w.c.HeartbeatProvisionerJobWithResponse(ctx, s.job.Id, &client.HeartbeatProvisionerJobParams{Authorization: s.auth()})
	if err != nil {
		return false, false, err
	}
	if res.StatusCode() == http.StatusConflict {
		return false, true, nil
	}
	if err := client.Check(res.HTTPResponse, res.Body); err != nil {
		return false, false, err
	}
	s.mu.Lock()
	s.token = res.JSON200.Token
	s.mu.Unlock()
	return res.JSON200.CancelRequested, false, nil
}

func (s *jobSession) sendLogs(ctx context.Context, lines []client.ProvisionerLogLine) error {
	res, err := s.w.c.AppendProvisionerJobLogsWithResponse(ctx, s.job.Id, &client.AppendProvisionerJobLogsParams{Authorization: s.auth()},
		client.AppendProvisionerJobLogsJSONRequestBody{Logs: lines})
	if err != nil {
		return err
	}
	return client.Check(res.HTTPResponse, res.Body)
}

// complete reports a success and takes the next job, if one is waiting.
func (s *jobSession) complete(ctx context.Context, result client.CompleteProvisionerJobJSONRequestBody) (*client.ProvisionerJob, error) {
	result.Next = ptr(true)
	res, err := s.w.c.CompleteProvisionerJobWithResponse(ctx, s.job.Id, &client.CompleteProvisionerJobParams{Authorization: s.auth()}, result)
	if err != nil {
		return nil, err
	}
	return res.JSON200, client.Check(res.HTTPResponse, res.Body)
}

// fail reports a failure, with the state a failed apply left, if any, and takes the next job, if
// one is waiting.
func (s *jobSession) fail(ctx context.Context, message string, canceled bool, state []byte) (*client.ProvisionerJob, error) {
	body := client.FailProvisionerJobJSONRequestBody{Error: message, Canceled: &canceled, Next: ptr(true)}
	if len(state) > 0 {
		body.State = &state
	}
	res, err := s.w.c.FailProvisionerJobWithResponse(ctx, s.job.Id, &client.FailProvisionerJobParams{Authorization: s.auth()}, body)
	if err != nil {
		return nil, err
	}
	return res.JSON200, client.Check(res.HTTPResponse, res.Body)
}

// shipper batches log lines to the server: every 200 ms, or at 500 lines.
type shipper struct {
	s     *jobSession
	mu    sync.Mutex
	buf   []client.ProvisionerLogLine
	kick  chan struct{}
	done  chan struct{}
	close func(context.Context)
}

func newShipper(s *jobSession) *shipper {
	sh := &shipper{s: s, kick: make(chan struct{}, 1), done: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		defer close(sh.done)
		for {
			select {
			case <-stop:
				return
			case <-sh.kick:
			case <-time.After(200 * time.Millisecond):
			}
			sh.flush(context.Background())
		}
	}()
	sh.close = func(ctx context.Context) {
		close(stop)
		<-sh.done
		sh.flush(ctx)
	}
	return sh
}

func (sh *shipper) add(stage, level, line string) {
	sh.mu.Lock()
	sh.buf = append(sh.buf, client.ProvisionerLogLine{Time: time.Now(), Stage: client.ProvisionerLogLineStage(stage),
		Level: client.ProvisionerLogLineLevel(level), Output: line})
	full := len(sh.buf) >= 500
	sh.mu.Unlock()
	if full {
		select {
		case sh.kick <- struct{}{}:
		default:
		}
	}
}

func (sh *shipper) flush(ctx context.Context) {
	for {
		sh.mu.Lock()
		n := min(len(sh.buf), 1000)
		batch := sh.buf[:n:n]
		sh.buf = sh.buf[n:]
		sh.mu.Unlock()
		if n == 0 {
			return
		}
		if err := sh.s.sendLogs(ctx, batch); err != nil {
			sh.s.w.log.Warn("provisioner: sending logs failed; dropping them", "lines", n, "error", err)
		}
	}
}
