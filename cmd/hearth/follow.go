package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hearthdev/hearth/internal/client"
)

// logLine is a build's or an import's log line, as the API streams it.
type logLine struct {
	ID     int64     `json:"id"`
	Stage  string    `json:"stage"`
	Level  string    `json:"level"`
	Output string    `json:"output"`
	Time   time.Time `json:"time"`
}

// followLogs reads a Server-Sent Events log stream (event log, then event end) and prints each line
// as a step line with the time since start, and a header when the stage changes. It returns when the
// stream ends.
func followLogs(ctx context.Context, res *http.Response, out io.Writer, start time.Time) error {
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return client.Check(res, body)
	}
	stage := ""
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
			if event == "log" && json.Unmarshal([]byte(data), &l) == nil {
				if l.Stage != stage {
					stage = l.Stage
					fmt.Fprintf(out, "==> %s\n", stage)
				}
				fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), l.Output)
			}
			event, data = "", ""
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("the log stream broke: %w", err)
	}
	return ctx.Err()
}

// followBuild prints a workspace build's logs until it ends and returns an error unless it succeeded.
func followBuild(ctx context.Context, c *client.ClientWithResponses, out io.Writer, buildID string) error {
	start := time.Now()
	follow, accept := true, "text/event-stream"
	res, err := c.GetWorkspaceBuildLogs(ctx, buildID, &client.GetWorkspaceBuildLogsParams{Follow: &follow, Accept: &accept}) //nolint:bodyclose // followLogs closes it
	if err != nil {
		return err
	}
	if err := followLogs(ctx, res, out, start); err != nil {
		return err
	}
	b, err := client.Ok(c.GetWorkspaceBuildWithResponse(ctx, buildID))
	if err != nil {
		return err
	}
	build := b.JSON200
	took := time.Since(start).Seconds()
	if build.Status != "succeeded" {
		return fmt.Errorf("build #%d (%s) %s after %.1fs: %s", build.Number, build.Transition, build.Status, took, deref(build.Error))
	}
	fmt.Fprintf(out, "Build #%d (%s) succeeded in %.1fs.\n", build.Number, build.Transition, took)
	return nil
}
