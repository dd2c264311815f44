package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearthdev/hearth/client"
)

// churn stops and starts workspaces until ctx ends, the write churn of people starting and stopping
// their workspaces: the last n workspaces (the traffic sessions take the first ones) each cycle on
// their own, one build at a time, a cycle beginning every `every` (their starts spread over the
// first interval), or back to back when every is 0. A cycle stops the workspace's simulated agents,
// asks for a stop build and waits for it (churn.stop: request to succeeded), then asks for a start
// build and waits until its new agents (with the tokens the build wrote) are connected (churn.start).
// Every cycle is two real Terraform runs: on a small machine the rate, n/every, decides how much of
// its CPU goes to builds. It returns the number of cycles done.
func (r *run) churn(ctx context.Context, n int, every time.Duration) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	cycles := 0
	n = min(n, len(r.spaces))
	for j := range n {
		i := len(r.spaces) - 1 - j
		wg.Go(func() {
			next := time.Now().Add(every * time.Duration(j) / time.Duration(n))
			for sleep(ctx, time.Until(next)) == nil {
				next = time.Now().Add(every)
				if err := r.cycle(ctx, i); err != nil {
					return
				}
				mu.Lock()
				cycles++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return cycles
}

func (r *run) cycle(ctx context.Context, i int) error {
	m := r.perWorkspace()
	for _, a := range r.agents[i*m : (i+1)*m] {
		a.stop()
	}
	if err := r.rec.time("churn.stop", func() error { return cut(ctx, r.build(ctx, i, client.CreateBuildInputBodyTransitionStop)) }); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return r.rec.time("churn.start", func() error {
		if err := r.build(ctx, i, client.CreateBuildInputBodyTransitionStart); err != nil || ctx.Err() != nil {
			return cut(ctx, err)
		}
		for k := range m {
			file := r.spaces[i]
			if k > 0 {
				file += "-" + strconv.Itoa(k+1)
			}
			token, err := os.ReadFile(filepath.Join(r.tokenDir, file))
			if err != nil {
				return cut(ctx, err)
			}
			a, err := newSimAgent(r.cfg.URL, strings.TrimSpace(string(token)), r.agentHTTP, r.rec)
			if err != nil {
				return err
			}
			// Started to the end whatever the stage does, so the agent's reports are not cut short.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			err = a.start(sctx)
			cancel()
			if err != nil {
				return err
			}
			r.agents[i*m+k] = a
			a.tailnet = r.cfg.Tailnet
			a.launch(r.agentsCtx, r.agentsWG, r.cfg.Interval)
		}
		for _, a := range r.agents[i*m : (i+1)*m] {
			for !a.up.Load() {
				if err := sleep(ctx, 20*time.Millisecond); err != nil {
					return cut(ctx, err)
				}
			}
		}
		return nil
	})
}

// build asks for a build of workspace i and waits until it has succeeded.
func (r *run) build(ctx context.Context, i int, transition client.CreateBuildInputBodyTransition) error {
	res, err := r.api.CreateWorkspaceBuildWithResponse(ctx, r.spaces[i], client.CreateWorkspaceBuildJSONRequestBody{Transition: transition})
	if err == nil {
		err = client.Check(res.HTTPResponse, res.Body)
	}
	if err != nil {
		return err
	}
	// A build asked for is waited for even when the stage ends meanwhile: clean-up cannot delete a
	// workspace whose build runs.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	id := res.JSON201.Id
	for {
		b, err := r.api.GetWorkspaceBuildWithResponse(ctx, id)
		if err == nil {
			err = client.Check(b.HTTPResponse, b.Body)
		}
		if err != nil {
			return err
		}
		switch b.JSON200.Status {
		case client.WorkspaceBuildStatusSucceeded:
			return nil
		case client.WorkspaceBuildStatusFailed, client.WorkspaceBuildStatusCanceled:
			return fmt.Errorf("the %s build of workspace %s %s", transition, r.spaces[i], b.JSON200.Status)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
