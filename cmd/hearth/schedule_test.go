package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// Schedules in real time: a workspace with a 5-second TTL stops a few seconds after its deadline; an
// extension keeps it up; the template's maximum bounds both; and a deadline that passes while the
// server is down is kept once it is back; autostart starts a stopped workspace at its cron time.
func TestAutostopAndAutostart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pg := dbtest.NewURL(t)
	args := []string{"--postgres-url", pg, "--data-dir", filepath.Join(dir, "server"), "--provisioners", "1", "--provider-mirror", tftest.Mirror(t)}
	srv := startServer(t, args...)
	c, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := c.run("", args...)
		require.Equal(t, 0, code, "hearth %v: %s%s", args, out, errOut)
		return out
	}
	status := func() (string, map[string]any) {
		var w map[string]any
		require.NoError(t, json.Unmarshal([]byte(ok("show", "dev", "-o", "json")), &w))
		return w["status"].(string), w
	}
	waitStopped := func(deadline time.Time) time.Duration {
		t.Helper()
		for {
			if s, _ := status(); s == "stopped" {
				return time.Since(deadline)
			}
			require.True(t, time.Since(deadline) < 30*time.Second, "still not stopped 30 s after its deadline")
			time.Sleep(250 * time.Millisecond)
		}
	}
	deadlineOf := func() time.Time {
		s, w := status()
		v, isSet := w["deadline"].(string)
		require.True(t, isSet, "the workspace has no deadline (it is %s)", s)
		d, err := time.Parse(time.RFC3339Nano, v)
		require.NoError(t, err)
		return d
	}

	_, errOut, code := c.run("", "templates", "push", "../../examples/templates/local", "--name", "local", "--variable", "workspaces_dir="+filepath.Join(dir, "ws"))
	require.Equal(t, 0, code, errOut)
	ok("create", "dev")
	_, w := status()
	require.Nil(t, w["deadline"], "the template has no default TTL: it runs until stopped")
	require.Contains(t, ok("schedule", "show", "dev"), "never stops by itself")

	// A 5-second TTL from the next start.
	ok("schedule", "stop", "dev", "5s")
	ok("restart", "dev")
	deadline := deadlineOf()
	require.Contains(t, ok("schedule", "show", "dev"), "Stops:")
	// Watched as the dashboard does: the next transition at once, then each change until stopped.
	_, w = status()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.url+"/api/v2/workspaces/"+w["id"].(string)+"/watch", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	events := bufio.NewScanner(res.Body)
	events.Buffer(make([]byte, 1<<20), 1<<20)
	var seen []string
	for events.Scan() {
		data, found := strings.CutPrefix(events.Text(), "data: ")
		if !found {
			continue
		}
		var ev struct {
			Status         string
			NextTransition *struct {
				Transition string
				At         time.Time
			} `json:"next_transition"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &ev))
		if len(seen) == 0 {
			require.NotNil(t, ev.NextTransition, "the first event says what comes next")
			require.Equal(t, "stop", ev.NextTransition.Transition)
			require.WithinDuration(t, deadline, ev.NextTransition.At, time.Millisecond)
		}
		seen = append(seen, ev.Status)
		if ev.Status == "stopped" {
			break
		}
		require.Less(t, time.Since(deadline), 30*time.Second, "not stopped 30 s after its deadline: %v", seen)
	}
	_ = res.Body.Close()
	require.Equal(t, "stopped", seen[len(seen)-1], "events: %v", seen)
	require.GreaterOrEqual(t, len(seen), 2, "the state at once, then its changes: %v", seen)
	t.Logf("stopped %s after its deadline (events: %v)", time.Since(deadline).Round(10*time.Millisecond), seen)

	// Extended right after the start, it outlives its TTL.
	ok("start", "dev")
	ok("schedule", "extend", "dev", "1m")
	time.Sleep(7 * time.Second)
	s, _ := status()
	require.Equal(t, "running", s, "extended by a minute, it is still running after its 5-second TTL")

	// The template's maximum bounds the TTL and extensions (its row in access_test covers who).
	callAPI(t, "PATCH", srv.url+"/api/v2/templates/local", token, "application/json", []byte(`{"max_ttl_seconds":120}`))
	out, errOut, code := c.run("", "schedule", "stop", "dev", "5m")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "allows at most 2m0s")
	ok("restart", "dev")
	out, errOut, code = c.run("", "schedule", "extend", "dev", "10m")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "at the latest")
	_, _, code = c.run("", "schedule", "stop", "dev", "soon")
	require.Equal(t, 2, code)

	// A deadline that passes while the server is down: the job is in PostgreSQL and runs after.
	ok("schedule", "stop", "dev", "6s")
	ok("restart", "dev")
	deadline = deadlineOf()
	srv.interrupt(t)
	time.Sleep(time.Until(deadline) + 2*time.Second)
	srv = startServer(t, args...)
	ok("login", srv.url, "--token", token) // the new server listens on another port
	late := waitStopped(deadline)
	t.Logf("stopped %s after its deadline, which passed while the server was down", late.Round(10*time.Millisecond))
	require.True(t, strings.Contains(ok("schedule", "show", "dev"), "stopped"))

	// Autostart: a stopped workspace starts at its schedule's next time (every 5 seconds here, with
	// the optional seconds field); turning it off leaves it alone.
	ok("schedule", "stop", "dev", "default") // off would be above the template's maximum; its default is 0
	out, errOut, code = c.run("", "schedule", "start", "dev", "CRON_TZ=Mars/Olympus 30 8 * * 1-5")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, `unknown time zone "Mars/Olympus"`)
	out, errOut, code = c.run("", "schedule", "start", "dev", "30 8 * *")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "is not a cron schedule")
	require.Contains(t, ok("schedule", "start", "dev", "*/5 * * * * *"), "next at")
	require.Contains(t, ok("schedule", "show", "dev"), "*/5 * * * * *, next at")
	started := time.Now()
	for s, _ := status(); s != "running"; s, _ = status() {
		require.True(t, time.Since(started) < 30*time.Second, "not started by its schedule within 30 s (%s)", s)
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("started by its schedule %s after it was set", time.Since(started).Round(10*time.Millisecond))
	require.Contains(t, ok("schedule", "start", "dev", "off"), "off")
	ok("stop", "dev")
	time.Sleep(6 * time.Second)
	s, _ = status()
	require.Equal(t, "stopped", s, "with autostart off it stays stopped")

	// Activity keeps it up: an SSH session pushes the deadline one TTL past the use (activity is
	// written in batches every 10 s), so it outlives the deadline it started with. The TTL leaves
	// the session and that batch 30 s to land before the first deadline, however loaded the machine.
	ok("schedule", "stop", "dev", "40s")
	ok("start", "dev")
	first := deadlineOf()
	// As people connect (over WireGuard where the server offers it, whose bytes never pass the
	// server: the coordination itself is the activity, for as long as the session lasts; else
	// through the relay).
	_, errOut, code = c.runEnv([]string{connect.PathEnv + "=auto"}, "", "ssh", "dev", "--", "sleep", "3")
	require.Equal(t, 0, code, errOut)
	for !deadlineOf().After(first.Add(2 * time.Second)) {
		require.True(t, time.Now().Before(first.Add(5*time.Second)), "the SSH session did not move the deadline")
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Until(first) + time.Second)
	s, _ = status()
	require.Equal(t, "running", s, "used, it runs past its first deadline")
	ok("stop", "dev")

	// A required stop: the template stops workspaces at their owner's quiet hours, which caps the
	// deadline whatever the TTL.
	callAPI(t, "PATCH", srv.url+"/api/v2/templates/local", token, "application/json", []byte(`{"max_ttl_seconds":0,"autostop_requirement_days":["mon","tue","wed","thu","fri","sat","sun"]}`))
	me := callAPI(t, "PATCH", srv.url+"/api/v2/users/me", token, "application/json", []byte(`{"quiet_hours_schedule":"CRON_TZ=Asia/Tokyo 0 3 * * *"}`))
	require.Equal(t, "CRON_TZ=Asia/Tokyo 0 3 * * *", me["quiet_hours_schedule"])
	ok("schedule", "stop", "dev", "off")
	ok("start", "dev")
	_, w = status()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	want := time.Now().In(tokyo).Add(time.Hour)
	want = time.Date(want.Year(), want.Month(), want.Day(), 3, 0, 0, 0, tokyo)
	if want.Before(time.Now().Add(time.Hour)) {
		want = want.AddDate(0, 0, 1)
	}
	for _, field := range []string{"deadline", "max_deadline"} {
		at, err := time.Parse(time.RFC3339Nano, w[field].(string))
		require.NoError(t, err, field)
		require.True(t, at.Equal(want), "%s is the next 03:00 in Tokyo at least an hour away (%s), not %s", field, want, at)
	}
	res2, err := http.DefaultClient.Do(mustRequest(t, "PATCH", srv.url+"/api/v2/users/me", token, `{"quiet_hours_schedule":"CRON_TZ=Nowhere/Land 0 3 * * *"}`))
	require.NoError(t, err)
	_ = res2.Body.Close()
	require.Equal(t, http.StatusBadRequest, res2.StatusCode, "unknown zones in quiet hours are refused")

	// A dormant workspace is stopped and cannot start until it is woken.
	callAPI(t, "PUT", srv.url+"/api/v2/workspaces/"+w["id"].(string)+"/dormant", token, "application/json", []byte(`{"dormant":true}`))
	waitStopped(time.Now())
	require.Contains(t, ok("schedule", "show", "dev"), "dormant since")
	out, errOut, code = c.run("", "start", "dev")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "is dormant")
	require.Contains(t, errOut, "hearth schedule wake")
	require.Contains(t, ok("schedule", "wake", "dev"), "active again")
	ok("start", "dev")
	s, _ = status()
	require.Equal(t, "running", s)
	ok("stop", "dev") // no agent outlives the test
}

func mustRequest(t *testing.T, method, url, token, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req
}
