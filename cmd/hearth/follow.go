package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hearthdev/hearth/client"
)

// logLine is a build's or an import's log line, as the API streams it.
type logLine struct {
	ID     int64     `json:"id"`
	Stage  string    `json:"stage"`
	Level  string    `json:"level"`
	Output string    `json:"output"`
	Time   time.Time `json:"time"`
}

// logFollower prints the lines of Server-Sent Events log streams (event log, then event end) as step
// lines with the time since start, and a header when the stage changes. It remembers the last line,
// so a stream that broke is resumed after it.
type logFollower struct {
	out   io.Writer
	start time.Time
	stage string
	last  int64
}

// follow reads one stream until its end event (nil), or until it breaks (errBroken, wrapped).
func (f *logFollower) follow(ctx context.Context, res *http.Response) error {
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return client.Check(res, body)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	event, data := "", ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "":
			if event == "end" {
				return nil
			}
			var l logLine
			if event == "log" && json.Unmarshal([]byte(data), &l) == nil && l.ID > f.last {
				f.last = l.ID
				if l.Stage != f.stage {
					f.stage = l.Stage
					fmt.Fprintf(f.out, "==> %s\n", f.stage)
				}
				fmt.Fprintf(f.out, "[%5.1fs] %s\n", time.Since(f.start).Seconds(), l.Output)
			}
			event, data = "", ""
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err := sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF // the stream ended without saying the build had
	}
	return fmt.Errorf("%w: %w", errBroken, err)
}

// errBroken is a log stream that ended before the build did: the replica serving it went away.
var errBroken = errors.New("the log stream broke")

// reconnectFor is how long a follower keeps trying to reach the deployment again after its stream
// broke (a replica died; another, or the same one restarted, carries on).
const reconnectFor = 2 * time.Minute

// followBuild prints a workspace build's logs until it ends and returns an error unless it succeeded.
// A broken stream is resumed after its last line, from any replica, so the replica's death does not
// end the command while the build goes on.
func followBuild(ctx context.Context, c *client.ClientWithResponses, out io.Writer, buildID string) error {
	start := time.Now()
	f := &logFollower{out: out, start: start}
	var brokeAt time.Time
	for {
		follow, accept, after := true, "text/event-stream", f.last
		res, err := c.GetWorkspaceBuildLogs(ctx, buildID, &client.GetWorkspaceBuildLogsParams{Follow: &follow, Accept: &accept, After: &after}) //nolint:bodyclose // follow closes it
		if err == nil {
			err = f.follow(ctx, res)
		} else if ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", errBroken, err)
		}
		if !errors.Is(err, errBroken) {
			if err != nil {
				return err
			}
			break
		}
		if f.last > after { // it got somewhere before breaking: a new outage
			brokeAt = time.Time{}
		}
		if brokeAt.IsZero() {
			brokeAt = time.Now()
			fmt.Fprintf(out, "[%5.1fs] (lost the connection to the server; reconnecting)\n", time.Since(start).Seconds())
		}
		if time.Since(brokeAt) > reconnectFor {
			return fmt.Errorf("%w, and the server did not answer again for %s; the build may still finish: hearth logs shows it", err, reconnectFor)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	b, err := client.Ok(c.GetWorkspaceBuildWithResponse(ctx, buildID))
	if err != nil {
		return err
	}
	build := b.JSON200
	took := time.Since(start).Seconds()
	if build.Status != "succeeded" {
		printDiagnostics(out, build.Diagnostics)
		return fmt.Errorf("build #%d (%s) %s after %.1fs: %s", build.Number, build.Transition, build.Status, took, deref(build.Error))
	}
	fmt.Fprintf(out, "Build #%d (%s) succeeded in %.1fs.\n", build.Number, build.Transition, took)
	return nil
}
