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
	"strings"
	"sync"
	"time"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/buildinfo"
)

// Config configures a worker.
type Config struct {
	// URL is the control plane's; Key a pre-shared key it accepts.
	URL string
	Key string
	// Fallback are more URLs of the same deployment (other replicas): a request that cannot reach
	// one goes to the next.
	Fallback []string
	// Name identifies the worker; Tags decide which jobs it takes.
	Name string
	Tags map[string]string
	// Concurrency is how many jobs it runs at once (default 1).
	Concurrency int
	// Builtin marks the server's own workers.
	Builtin bool
	// Runner runs Terraform; its WorkDir (default a directory of the worker's own under the system's
	// temporary directory) holds the job directories (jobs/) and the results not yet delivered
	// (outbox/), and the init cache (init-cache/). Workers must not share one.
	Runner Runner
	Logger *slog.Logger
}

// ErrUnauthorized means the server refused the key: retrying will not help.
var ErrUnauthorized = errors.New("the server refused the provisioner key (401)")

// Run takes and runs jobs until ctx ends. It first cleans up after a previous run in the same work
// directory (processes and job directories a killed worker left) and delivers the results that run
// could not. A job running when ctx ends is interrupted, and its result (a failure, with the state
// Terraform left) is delivered or kept for the next start.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	base := cfg.Runner.WorkDir
	if base == "" {
		base = filepath.Join(os.TempDir(), "hearth-provisioner", cfg.Name)
	}
	for i, m := range cfg.Runner.Mirrors {
		// Terraform runs in each job's directory: a relative mirror would point nowhere.
		abs, err := filepath.Abs(m)
		if err != nil {
			return err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return fmt.Errorf("provider mirror %s is not a directory: build one with go tool task providers, or leave it out", m)
		}
		cfg.Runner.Mirrors[i] = abs
	}
	if cfg.Runner.AccessURL == "" {
		cfg.Runner.AccessURL = cfg.URL
	}
	if cfg.Runner.ServerURL == "" {
		cfg.Runner.ServerURL = cfg.URL
	}
	c, err := client.DialAny(append([]string{cfg.URL}, cfg.Fallback...), "", "provisioner")
	if err != nil {
		return err
	}
	unlock, err := lockWorkDir(base)
	if err != nil {
		return err
	}
	defer unlock()
	cfg.Runner.WorkDir = filepath.Join(base, "jobs")
	if cfg.Runner.InitCache == "" {
		cfg.Runner.InitCache = filepath.Join(base, "init-cache")
	}
	if err := os.MkdirAll(cfg.Runner.WorkDir, 0o700); err != nil {
		return fmt.Errorf("provisioner: work directory: %w", err)
	}
	_ = os.Chmod(base, 0o700)
	_ = os.Chmod(cfg.Runner.WorkDir, 0o700)
	w := &worker{cfg: cfg, c: c, log: cfg.Logger.With("worker", cfg.Name), outbox: outbox{dir: filepath.Join(base, "outbox")}}
	if dirs, procs := cfg.Runner.sweep(); dirs > 0 {
		w.log.Warn("provisioner: cleaned up after a previous run that did not finish its jobs", "job_directories", dirs, "processes_killed", procs)
	}
	var wg sync.WaitGroup
	w.redeliver(ctx, &wg)
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
	cfg    Config
	c      *client.ClientWithResponses
	log    *slog.Logger
	outbox outbox
}

func (w *worker) loop(ctx context.Context, slot int) error {
	name := w.cfg.Name
	if slot > 0 {
		name = fmt.Sprintf("%s-%d", w.cfg.Name, slot)
	}
	wait := int64(30)
	body := client.AcquireProvisionerJobJSONRequestBody{Name: name, Version: new(buildinfo.Version()), Tags: &w.cfg.Tags,
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
// the result kept in the outbox and delivered. It returns the next job, which the server hands over
// with the result when one is waiting.
func (w *worker) run(ctx context.Context, j *client.ProvisionerJob) *client.ProvisionerJob {
	log := w.log.With("job", j.Id, "attempt", j.Attempt, "kind", j.Kind)
	log.Info("provisioner: job started")
	start := time.Now()
	s := &jobSession{w: w, job: j, token: j.Token}
	tfCtx, stopTerraform := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopTerraform(nil)
	logs := newShipper(s)
	hb := s.heartbeats(ctx, logs, stopTerraform)
	defer hb.stop()

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
	canceled, lost := hb.outcome()
	out := outcome{JobID: j.Id, Attempt: j.Attempt}
	if err != nil {
		log.Info("provisioner: job failed", "error", err, "canceled", canceled, "lost", lost, "elapsed", time.Since(start).Round(time.Millisecond))
		out.Fail = &client.FailProvisionerJobJSONRequestBody{Error: err.Error(), Canceled: &canceled}
		var tfErr *TerraformError
		if errors.As(err, &tfErr) && len(tfErr.Diagnostics) > 0 {
			out.Fail.Diagnostics = &tfErr.Diagnostics
		}
		if len(failedState) > 0 {
			out.Fail.State = &failedState
		}
	} else {
		log.Info("provisioner: job succeeded", "elapsed", time.Since(start).Round(time.Millisecond))
		out.Complete = &result
	}
	logs.close(context.WithoutCancel(ctx))
	// The result is on disk before it is first sent: from here on, neither the server's absence nor
	// this worker's death loses it.
	out.Token = s.currentToken()
	if err := w.outbox.put(out); err != nil {
		log.Error("provisioner: cannot keep the result on disk; sending it once", "error", err)
	}
	hb.resultPending()
	dctx := ctx
	if ctx.Err() != nil { // shutting down: a short try now, the rest at the next start
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
	}
	next, delivered := w.deliver(dctx, s, out, ctx.Err() == nil)
	if delivered {
		_ = w.outbox.remove(out.JobID, out.Attempt)
	}
	return next
}

// deliver sends a job's result until the server answers it, with backoff, across replicas and
// outages: true when the server stored it (or refused it for good), false when ctx ended first and
// the result stays in the outbox. With next, the answer carries the worker's next job, if any.
func (w *worker) deliver(ctx context.Context, s *jobSession, out outcome, next bool) (*client.ProvisionerJob, bool) {
	log := w.log.With("job", out.JobID, "attempt", out.Attempt)
	backoff := 250 * time.Millisecond
	for tries := 1; ; tries++ {
		job, status, err := s.report(ctx, out, next)
		switch {
		case err == nil:
			if tries > 1 {
				log.Info("provisioner: result delivered", "tries", tries)
			}
			return job, true
		case status == http.StatusConflict:
			log.Warn("provisioner: the server refused the result: the job is no longer this worker's (it was retried elsewhere, or a later build superseded it)", "error", err)
			return nil, true
		case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			log.Error("provisioner: the server refused the result; dropping it", "status", status, "error", err)
			return nil, true
		}
		if ctx.Err() != nil {
			log.Warn("provisioner: the result is not delivered yet; it is kept on disk and sent when the worker starts again", "error", err)
			return nil, false
		}
		log.Warn("provisioner: delivering the result failed; retrying", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second) // soon after the server is back: the build is held for it
	}
}

// redeliver sends, in the background, the results a previous run of the worker kept but could not
// deliver, heartbeating each job meanwhile so the server keeps it for the result.
func (w *worker) redeliver(ctx context.Context, wg *sync.WaitGroup) {
	outs, errs := w.outbox.pending()
	for _, err := range errs {
		w.log.Error("provisioner: a kept result cannot be read; left in place", "error", err)
	}
	for _, out := range outs {
		w.log.Info("provisioner: delivering a result kept by a previous run", "job", out.JobID, "attempt", out.Attempt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &jobSession{w: w, job: &client.ProvisionerJob{Id: out.JobID, Attempt: out.Attempt, HeartbeatSeconds: 10}, token: out.Token}
			hb := s.heartbeats(ctx, nil, func(error) {})
			hb.resultPending()
			if _, ok := w.deliver(ctx, s, out, false); ok {
				_ = w.outbox.remove(out.JobID, out.Attempt)
			}
			hb.stop()
		}()
	}
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

func (s *jobSession) currentToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

func (s *jobSession) heartbeat(ctx context.Context, pending bool) (cancel, gone bool, err error) {
	body := client.HeartbeatProvisionerJobJSONRequestBody{}
	if pending {
		body.ResultPending = &pending
	}
	res, err := s.w.c.HeartbeatProvisionerJobWithResponse(ctx, s.job.Id, &client.HeartbeatProvisionerJobParams{Authorization: s.auth()}, body)
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

// beats is a job's heartbeat loop: it keeps the lease while Terraform runs and while the result is
// being delivered, and tells Terraform to stop when the job is canceled, taken away, or the worker
// shuts down.
type beats struct {
	mu             sync.Mutex
	canceled, lost bool
	pending        bool
	stopOnce       sync.Once
	cancelRequests context.CancelFunc
	done           chan struct{}
}

// heartbeats starts the loop; logs (nil for none) gets a line when the job is canceled.
func (s *jobSession) heartbeats(ctx context.Context, logs *shipper, stopTerraform context.CancelCauseFunc) *beats {
	b := &beats{done: make(chan struct{})}
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancelRequests = cancel
	every := time.Duration(max(s.job.HeartbeatSeconds, 1)) * time.Second
	go func() {
		defer close(b.done)
		for {
			select {
			case <-reqCtx.Done():
				return
			case <-ctx.Done():
				stopTerraform(errors.New("the worker is shutting down"))
				return
			case <-time.After(every):
			}
			b.mu.Lock()
			pending := b.pending
			b.mu.Unlock()
			cancel, gone, err := s.heartbeat(reqCtx, pending)
			switch {
			case reqCtx.Err() != nil:
				return
			case gone:
				b.mu.Lock()
				b.lost = true
				b.mu.Unlock()
				stopTerraform(errors.New("the server gave the job to another worker"))
				return
			case cancel:
				b.mu.Lock()
				first := !b.canceled
				b.canceled = true
				b.mu.Unlock()
				if first && logs != nil {
					logs.add("cleanup", "warn", "the job was canceled: interrupting Terraform")
				}
				stopTerraform(errors.New("the job was canceled"))
			case err != nil:
				s.w.log.Warn("provisioner: heartbeat failed", "job", s.job.Id, "error", err)
			}
		}
	}()
	return b
}

// resultPending tells the server, from the next heartbeat on, that the result is on its way.
func (b *beats) resultPending() {
	b.mu.Lock()
	b.pending = true
	b.mu.Unlock()
}

// outcome says whether the job was canceled or taken away while it ran.
func (b *beats) outcome() (canceled, lost bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.canceled, b.lost
}

// stop ends the loop and waits for it.
func (b *beats) stop() {
	b.stopOnce.Do(func() {
		b.cancelRequests()
		<-b.done
	})
}

func (s *jobSession) sendLogs(ctx context.Context, lines []client.ProvisionerLogLine) error {
	res, err := s.w.c.AppendProvisionerJobLogsWithResponse(ctx, s.job.Id, &client.AppendProvisionerJobLogsParams{Authorization: s.auth()},
		client.AppendProvisionerJobLogsJSONRequestBody{Logs: lines})
	if err != nil {
		return err
	}
	return client.Check(res.HTTPResponse, res.Body)
}

// report delivers a job's result once: the next job (when asked for and one waits), the answer's
// status, and an error unless the server stored the result.
func (s *jobSession) report(ctx context.Context, out outcome, next bool) (*client.ProvisionerJob, int, error) {
	auth := s.auth()
	if out.Complete != nil {
		body := *out.Complete
		body.Next = &next
		res, err := s.w.c.CompleteProvisionerJobWithResponse(ctx, out.JobID, &client.CompleteProvisionerJobParams{Authorization: auth}, body)
		if err != nil {
			return nil, 0, err
		}
		return res.JSON200, res.StatusCode(), client.Check(res.HTTPResponse, res.Body)
	}
	body := *out.Fail
	body.Next = &next
	res, err := s.w.c.FailProvisionerJobWithResponse(ctx, out.JobID, &client.FailProvisionerJobParams{Authorization: auth}, body)
	if err != nil {
		return nil, 0, err
	}
	return res.JSON200, res.StatusCode(), client.Check(res.HTTPResponse, res.Body)
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
	// The API refuses NUL bytes and invalid UTF-8 in any string; a program's output may hold both.
	line = strings.ToValidUTF8(strings.ReplaceAll(line, "\x00", ""), "\uFFFD")
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
