package main

import (
	"context"
	"sync"
	"time"

	"github.com/hearthdev/hearth/client"
)

// dashboardReads sends the reads a dashboard makes (the signed-in user, the workspaces list, one
// workspace, the templates, a build's log) at rps requests per second, as the run's owner, until ctx
// ends; at most inFlight wait at once, and a request that would exceed that is counted as an error
// (the server is not keeping up) rather than queued. It returns how many it sent.
func (r *run) dashboardReads(ctx context.Context, rps int) int {
	if rps <= 0 || len(r.spaces) == 0 {
		return 0
	}
	const inFlight = 256
	slots := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	reads := []struct {
		op string
		do func(ctx context.Context, i int) error
	}{
		{"dashboard.users-me", func(ctx context.Context, _ int) error {
			res, err := r.api.GetUserWithResponse(ctx, "me")
			if err != nil {
				return err
			}
			return client.Check(res.HTTPResponse, res.Body)
		}},
		{"dashboard.workspaces", func(ctx context.Context, _ int) error {
			limit := int64(50)
			res, err := r.api.ListWorkspacesWithResponse(ctx, &client.ListWorkspacesParams{Limit: &limit})
			if err != nil {
				return err
			}
			return client.Check(res.HTTPResponse, res.Body)
		}},
		{"dashboard.workspace", func(ctx context.Context, i int) error {
			res, err := r.api.GetWorkspaceWithResponse(ctx, r.spaces[i%len(r.spaces)])
			if err != nil {
				return err
			}
			return client.Check(res.HTTPResponse, res.Body)
		}},
		{"dashboard.templates", func(ctx context.Context, _ int) error {
			res, err := r.api.ListTemplatesWithResponse(ctx)
			if err != nil {
				return err
			}
			return client.Check(res.HTTPResponse, res.Body)
		}},
		{"dashboard.build-logs", func(ctx context.Context, i int) error {
			// The build is the workspace's first: the one the run's prepare stage made.
			res, err := r.api.GetWorkspaceBuildLogsWithResponse(ctx, r.builds[i%len(r.builds)], &client.GetWorkspaceBuildLogsParams{})
			if err != nil {
				return err
			}
			return client.Check(res.HTTPResponse, res.Body)
		}},
	}
	return paced(ctx, rps, func(i int) {
		read := reads[i%len(reads)]
		select {
		case slots <- struct{}{}:
		default:
			r.rec.fail(read.op, errBehind)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			_ = r.rec.time(read.op, func() error { return read.do(context.WithoutCancel(ctx), i/len(reads)) })
		}()
	})
}

// paced calls f(0), f(1), ... at rps a second from now until ctx ends, and returns how many it made.
// The i-th call is due at i/rps seconds; one that is late is made at once, so a loaded machine still
// asks for the rate (a ticker drops the ticks its reader misses, and would ask for less).
func paced(ctx context.Context, rps int, f func(i int)) int {
	start := time.Now()
	interval := time.Second / time.Duration(rps)
	for i := 0; ; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			if sleep(ctx, d) != nil {
				return i
			}
		} else if ctx.Err() != nil {
			return i
		}
		f(i)
	}
}

// errBehind is a dashboard read not sent because too many were still waiting.
var errBehind = errorString("more than 256 dashboard reads waiting: the server is not keeping up")

type errorString string

func (e errorString) Error() string { return string(e) }
