package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/hearthdev/hearth/client"
)

//go:embed template/main.tf
var templateFS embed.FS

// run is one scale test's state.
type run struct {
	cfg  Config
	logf func(string, ...any)
	rec  *recorder
	api  *client.ClientWithResponses
	// stageWrites, when a stage sets it, replaces the write rate measured over the whole stage.
	stageWrites *Writes
	// id names what the run makes: users st-ID-N, template scaletest-ID.
	id       string
	tokenDir string
	template string
	users    []string
	spaces   []string // workspace IDs
	builds   []string // their first builds' IDs
	agents   []*simAgent
	report   Report
	// What the agents run in, for agents started during the run (churn).
	agentsCtx context.Context
	agentsWG  *sync.WaitGroup
	agentHTTP *http.Client
}

func (r *run) run(ctx context.Context) (*Report, error) {
	var err error
	if r.api, err = client.Dial(r.cfg.URL, r.cfg.Token, "scaletest"); err != nil {
		return nil, err
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	r.id = hex.EncodeToString(b)
	r.report.Agents = r.cfg.Agents * r.perWorkspace()
	if r.tokenDir, err = os.MkdirTemp("", "hearth-scaletest-tokens-"); err != nil {
		return nil, err
	}
	defer func() {
		// Clean up whatever happened, with time of its own.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		r.cleanup(cctx)
		_ = os.RemoveAll(r.tokenDir)
	}()
	if err := r.prepare(ctx); err != nil {
		return &r.report, err
	}
	agentsCtx, stopAgents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopAgents(); wg.Wait() }()
	if err := r.connect(ctx, agentsCtx, &wg); err != nil {
		return &r.report, err
	}
	err = r.steady(ctx)
	for _, a := range r.agents {
		r.report.Drops += a.drops.Load()
	}
	if err == nil && r.report.Drops > 0 {
		err = fmt.Errorf("%d agent tunnels dropped during the run", r.report.Drops)
	}
	return &r.report, err
}

// perWorkspace is how many agents each workspace has.
func (r *run) perWorkspace() int { return max(1, r.cfg.AgentsPerWorkspace) }

// stage runs f as a named stage, sampling the server around it and collecting what was recorded.
func (r *run) stage(name string, f func() (string, error)) error {
	r.logf("stage %s", name)
	_ = r.rec.take()
	before, dbBefore := sampleTree(r.cfg.ServerPID), scrapeDB(context.Background(), r.cfg.URL)
	start := time.Now()
	note, err := f()
	s := Stage{Name: name, Seconds: round1(time.Since(start).Seconds()), Note: note, Ops: r.rec.take(), Usage: usage(before, sampleTree(r.cfg.ServerPID)),
		Writes: writes(dbBefore, scrapeDB(context.Background(), r.cfg.URL), len(r.agents))}
	if r.stageWrites != nil { // the stage measured a window of its own
		s.Writes, r.stageWrites = r.stageWrites, nil
	}
	r.report.Stages = append(r.report.Stages, s)
	if err != nil {
		return fmt.Errorf("stage %s: %w", name, err)
	}
	for _, o := range s.Ops {
		if o.Errors > 0 {
			return fmt.Errorf("stage %s: %d errors in %s (first: %s)", name, o.Errors, o.Op, o.FirstError)
		}
	}
	if name == "steady" {
		return overThreshold(s.Ops, r.cfg.P95)
	}
	return nil
}

// overThreshold is the first operation whose p95 is over its threshold in p95 (by name, or by a
// prefix ending in *), or nil.
func overThreshold(ops []OpStats, p95 map[string]float64) error {
	for _, o := range ops {
		for pattern, limit := range p95 {
			prefix, wild := strings.CutSuffix(pattern, "*")
			if (o.Op == pattern || wild && strings.HasPrefix(o.Op, prefix)) && o.P95 > limit {
				return fmt.Errorf("stage steady: %s p95 %.1f ms is over its threshold of %.0f ms", o.Op, o.P95, limit)
			}
		}
	}
	return nil
}

// prepare pushes the template and makes the users and workspaces, waiting for every build.
func (r *run) prepare(ctx context.Context) error {
	return r.stage("prepare", func() (string, error) {
		if err := r.pushTemplate(ctx); err != nil {
			return "", err
		}
		r.users = make([]string, r.cfg.Agents)
		r.spaces = make([]string, r.cfg.Agents)
		r.builds = make([]string, r.cfg.Agents)
		start := time.Now()
		err := parallel(ctx, r.cfg.Agents, r.cfg.Concurrency, func(i int) error {
			name := fmt.Sprintf("st-%s-%05d", r.id, i)
			if err := r.rec.time("api.create-user", func() error {
				body := client.CreateUserJSONRequestBody{Username: name, Email: openapi_types.Email(name + "@scaletest.example.com")}
				if r.cfg.SigninRPS > 0 {
					pw := r.password()
					body.Password = &pw
				}
				res, err := r.api.CreateUserWithResponse(ctx, body)
				if err != nil {
					return err
				}
				return client.Check(res.HTTPResponse, res.Body)
			}); err != nil {
				return err
			}
			r.users[i] = name
			return r.rec.time("api.create-workspace", func() error {
				res, err := r.api.CreateWorkspaceWithResponse(ctx, client.CreateWorkspaceJSONRequestBody{Name: "ws", Template: r.template, Owner: &name})
				if err == nil {
					err = client.Check(res.HTTPResponse, res.Body)
				}
				if err != nil {
					return err
				}
				r.spaces[i], r.builds[i] = res.JSON201.Id, res.JSON201.LatestBuild.Id
				return nil
			})
		})
		if err != nil {
			return "", err
		}
		created := time.Since(start)
		if err := r.waitBuilds(ctx); err != nil {
			return "", err
		}
		built := time.Since(start)
		return fmt.Sprintf("%d users and workspaces created in %.1f s; every build done after %.1f s (%.1f builds/s)",
			r.cfg.Agents, created.Seconds(), built.Seconds(), float64(r.cfg.Agents)/built.Seconds()), nil
	})
}

func (r *run) pushTemplate(ctx context.Context) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data, _ := templateFS.ReadFile("template/main.tf")
	_ = tw.WriteHeader(&tar.Header{Name: "main.tf", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(data)
	_ = tw.Close()
	ct := client.UploadFileParamsContentType("application/x-tar")
	up, err := r.api.UploadFileWithBodyWithResponse(ctx, &client.UploadFileParams{ContentType: &ct}, "application/x-tar", &buf)
	if err == nil {
		err = client.Check(up.HTTPResponse, up.Body)
	}
	if err != nil {
		return fmt.Errorf("upload the template: %w", err)
	}
	v, err := r.api.CreateTemplateVersionWithResponse(ctx, client.CreateTemplateVersionJSONRequestBody{FileId: up.JSON201.Id,
		Variables: &[]client.TemplateVariableValue{{Name: "token_dir", Value: r.tokenDir},
			{Name: "agents_per_workspace", Value: strconv.Itoa(r.perWorkspace())}}})
	if err == nil {
		err = client.Check(v.HTTPResponse, v.Body)
	}
	if err != nil {
		return fmt.Errorf("create the template version: %w", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := r.api.GetTemplateVersionWithResponse(ctx, v.JSON201.Id)
		if err == nil {
			err = client.Check(got.HTTPResponse, got.Body)
		}
		if err != nil {
			return err
		}
		switch got.JSON200.Status {
		case "succeeded":
			r.template = "scaletest-" + r.id
			t, err := r.api.CreateTemplateWithResponse(ctx, client.CreateTemplateJSONRequestBody{Name: r.template, VersionId: v.JSON201.Id})
			if err == nil {
				err = client.Check(t.HTTPResponse, t.Body)
			}
			if err != nil {
				r.template = ""
				return fmt.Errorf("create the template: %w", err)
			}
			return nil
		case "failed", "canceled":
			msg := ""
			if got.JSON200.Error != nil {
				msg = *got.JSON200.Error
			}
			return fmt.Errorf("the template's import %s: %s", got.JSON200.Status, msg)
		}
		if time.Now().After(deadline) {
			return errors.New("the template's import did not finish within 3 minutes")
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitBuilds waits until every workspace of the run's template is running, failing on a failed one.
func (r *run) waitBuilds(ctx context.Context) error {
	q := "template:" + r.template
	for last := ""; ; {
		counts, failed := map[client.WorkspaceStatus]int{}, ""
		for offset := int64(0); ; offset += 200 {
			limit := int64(200)
			res, err := r.api.ListWorkspacesWithResponse(ctx, &client.ListWorkspacesParams{Q: &q, Limit: &limit, Offset: &offset})
			if err == nil {
				err = client.Check(res.HTTPResponse, res.Body)
			}
			if err != nil {
				return err
			}
			for _, w := range res.JSON200.Workspaces {
				counts[w.Status]++
				if (w.Status == client.WorkspaceStatusFailed || w.Status == client.WorkspaceStatusCanceled) && failed == "" {
					failed = w.OwnerName + "/" + w.Name + ": " + deref(w.LatestBuild.Error)
				}
			}
			if len(res.JSON200.Workspaces) < int(limit) {
				break
			}
		}
		if n := counts[client.WorkspaceStatusFailed] + counts[client.WorkspaceStatusCanceled]; n > 0 {
			return fmt.Errorf("%d builds failed (the first, %s)", n, failed)
		}
		if counts[client.WorkspaceStatusRunning] == r.cfg.Agents {
			return nil
		}
		if s := fmt.Sprint(counts); s != last {
			r.logf("builds: %s", s)
			last = s
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// connect starts every simulated agent and waits until all hold a tunnel.
func (r *run) connect(ctx, agentsCtx context.Context, wg *sync.WaitGroup) error {
	return r.stage("connect", func() (string, error) {
		m := r.perWorkspace()
		tr := &http.Transport{MaxIdleConns: r.cfg.Agents*m + 100, MaxIdleConnsPerHost: r.cfg.Agents*m + 100, IdleConnTimeout: time.Minute}
		hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		r.agentsCtx, r.agentsWG, r.agentHTTP = agentsCtx, wg, hc
		// Workspace i's agents are r.agents[i*m:(i+1)*m], its first (main) first.
		r.agents = make([]*simAgent, len(r.spaces)*m)
		for i, id := range r.spaces {
			for k := range m {
				file := id
				if k > 0 {
					file += "-" + strconv.Itoa(k+1)
				}
				token, err := os.ReadFile(filepath.Join(r.tokenDir, file))
				if err != nil {
					return "", fmt.Errorf("the token of workspace %s's agent %d: %w", id, k+1, err)
				}
				if r.agents[i*m+k], err = newSimAgent(r.cfg.URL, strings.TrimSpace(string(token)), hc, r.rec); err != nil {
					return "", err
				}
				r.agents[i*m+k].tailnet = r.cfg.Tailnet
			}
		}
		start := time.Now()
		err := parallel(ctx, len(r.agents), r.cfg.Concurrency, func(i int) error {
			a := r.agents[i]
			if err := a.start(ctx); err != nil {
				return err
			}
			a.launch(agentsCtx, wg, r.cfg.Interval)
			return nil
		})
		if err != nil {
			return "", err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			up := 0
			for _, a := range r.agents {
				if a.up.Load() && (!a.tailnet || a.tailnetUp.Load()) {
					up++
				}
			}
			if up == len(r.agents) {
				break
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("only %d of %d agents connected within 2 minutes", up, len(r.agents))
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return "", err
			}
		}
		d := time.Since(start)
		return fmt.Sprintf("%d agents ready and connected in %.1f s (%.0f agents/s)", len(r.agents), d.Seconds(), float64(len(r.agents))/d.Seconds()), nil
	})
}

// steady holds every agent connected for the run's duration, reporting metadata.
func (r *run) steady(ctx context.Context) error {
	return r.stage("steady", func() (string, error) {
		start := time.Now()
		readsCtx, stopReads := context.WithCancel(ctx)
		sent := make(chan int, 1)
		go func() { sent <- r.dashboardReads(readsCtx, r.cfg.DashboardRPS) }()
		churned := make(chan int, 1)
		go func() { churned <- r.churn(readsCtx, r.cfg.ChurnWorkspaces, r.cfg.ChurnEvery) }()
		signedIn := make(chan int, 1)
		go func() { signedIn <- r.signIns(readsCtx, r.cfg.SigninRPS) }()
		trafficDone := make(chan struct{})
		go func() { defer close(trafficDone); r.traffic(readsCtx, r.cfg.TrafficSessions, r.cfg.TrafficInterval) }()
		// PostgreSQL publishes an idle backend's counts up to 10 s late: the write rate is taken
		// after that much of the stage, so the connect stage's writes are not counted here.
		settle := min(10*time.Second, r.cfg.Duration/3)
		err := sleep(ctx, settle)
		from := scrapeDB(ctx, r.cfg.URL)
		if err == nil {
			err = sleep(ctx, r.cfg.Duration-settle)
		}
		r.stageWrites = writes(from, scrapeDB(ctx, r.cfg.URL), len(r.agents))
		stopReads()
		reads := <-sent
		<-trafficDone
		signIns := <-signedIn
		cycles := <-churned
		secs := time.Since(start).Seconds()
		// The churning workspaces' agents may be mid-cycle when the stage ends: they are not counted.
		steadyAgents := r.agents[:(len(r.spaces)-min(r.cfg.ChurnWorkspaces, len(r.spaces)))*r.perWorkspace()]
		up := 0
		for _, a := range steadyAgents {
			if a.up.Load() {
				up++
			}
		}
		note := fmt.Sprintf("%d of %d agents connected at the end; metadata every %s per agent (%.1f reports/s expected); %d dashboard reads (%.1f/s); %d sign-ins (%.1f/s); %d workspaces with SSH, terminal and app traffic every %s; %d stop/start cycles in %d workspaces (one each every %s)",
			up, len(steadyAgents), r.cfg.Interval, float64(len(r.agents))/r.cfg.Interval.Seconds(), reads, float64(reads)/secs, signIns, float64(signIns)/secs,
			min(r.cfg.TrafficSessions, len(r.spaces)), r.cfg.TrafficInterval, cycles, min(r.cfg.ChurnWorkspaces, len(r.spaces)), r.cfg.ChurnEvery)
		if err != nil {
			return note, err
		}
		if up < len(steadyAgents) {
			return note, fmt.Errorf("%d agents were not connected at the end", len(steadyAgents)-up)
		}
		return note, nil
	})
}

// cleanup deletes what the run made: workspaces (orphaned: the template made nothing but a token
// file), users and the template.
func (r *run) cleanup(ctx context.Context) {
	_ = r.stage("cleanup", func() (string, error) {
		orphan := true
		var firstErr error
		var mu sync.Mutex
		keep := func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if firstErr == nil {
				firstErr = err
			}
		}
		_ = parallel(ctx, len(r.spaces), r.cfg.Concurrency, func(i int) error {
			if r.spaces[i] == "" {
				return nil
			}
			if err := r.rec.time("api.delete-workspace", func() error {
				// A churning workspace may have a build under way (the steady stage ended mid-cycle):
				// the server refuses with 409 until it ends, so wait for it as a user would.
				deadline := time.Now().Add(2 * time.Minute)
				for {
					res, err := r.api.DeleteWorkspaceWithResponse(ctx, r.spaces[i], &client.DeleteWorkspaceParams{Orphan: &orphan})
					if err != nil {
						return err
					}
					if res.StatusCode() != http.StatusConflict || time.Now().After(deadline) {
						return client.Check(res.HTTPResponse, res.Body)
					}
					if err := sleep(ctx, 500*time.Millisecond); err != nil {
						return err
					}
				}
			}); err != nil {
				keep(err)
			}
			return nil
		})
		_ = parallel(ctx, len(r.users), r.cfg.Concurrency, func(i int) error {
			if r.users[i] == "" {
				return nil
			}
			if err := r.rec.time("api.delete-user", func() error {
				res, err := r.api.DeleteUserWithResponse(ctx, r.users[i])
				if err != nil {
					return err
				}
				return client.Check(res.HTTPResponse, res.Body)
			}); err != nil {
				keep(err)
			}
			return nil
		})
		if r.template != "" {
			// Deleting the template waits for the workspaces' deletions to finish.
			deadline := time.Now().Add(5 * time.Minute)
			for {
				res, err := r.api.DeleteTemplateWithResponse(ctx, r.template)
				if err == nil {
					err = client.Check(res.HTTPResponse, res.Body)
				}
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					keep(fmt.Errorf("delete the template: %w", err))
					break
				}
				if sleep(ctx, time.Second) != nil {
					break
				}
			}
		}
		return "", firstErr
	})
}

// parallel runs f(0..n-1) with at most width at a time, stopping at the first error.
func parallel(ctx context.Context, n, width int, f func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(1, width))
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func deref(s *string) string {
	if s == nil {
		return "no error recorded"
	}
	return *s
}
