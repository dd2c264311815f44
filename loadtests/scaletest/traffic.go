package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/connect"
)

// traffic runs the connection traffic a developer makes, in sessions workspaces at once, until ctx
// ends: an SSH session echoing 64 bytes every interval (ssh.echo), a web terminal doing the same
// (pty.echo), and a request to the workspace's app through the path proxy (app.get). Each session
// connects once (ssh.connect, pty.connect) and holds its connection, the way people do; a broken one
// is counted as an error and not retried. It returns when every session has ended.
func (r *run) traffic(ctx context.Context, sessions int, interval time.Duration) {
	var wg sync.WaitGroup
	for i := range min(sessions, len(r.spaces)) {
		wg.Go(func() { r.sshTraffic(ctx, i, interval) })
		wg.Go(func() { r.ptyTraffic(ctx, i, interval) })
		wg.Go(func() { r.appTraffic(ctx, i, interval) })
	}
	wg.Wait()
}

// every calls f every interval until ctx ends or f fails.
func every(ctx context.Context, interval time.Duration, f func() error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if f() != nil {
				return
			}
		}
	}
}

// echoed writes 64 random bytes to w and reads until they come back from rd.
func echoed(w io.Writer, rd io.Reader) error {
	msg := make([]byte, 32)
	_, _ = rand.Read(msg)
	want := fmt.Appendf(nil, "%x", msg)
	if _, err := w.Write(want); err != nil {
		return err
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4096)
	for !bytes.Contains(got, want) {
		n, err := rd.Read(buf)
		if err != nil {
			return err
		}
		got = append(got, buf[:n]...)
	}
	return nil
}

func (r *run) sshTraffic(ctx context.Context, i int, interval time.Duration) {
	var sess *gossh.Session
	var stdin io.Writer
	var stdout io.Reader
	err := r.rec.time("ssh.connect", func() error {
		conn, err := connect.Dial(ctx, cliconfig.Session{URL: r.cfg.URL, Token: r.cfg.Token}, r.agents[i*r.perWorkspace()].id, "ssh", 0)
		if err != nil {
			return err
		}
		c, chans, reqs, err := gossh.NewClientConn(conn, "ws", &gossh.ClientConfig{User: r.users[i],
			HostKeyCallback: gossh.InsecureIgnoreHostKey()}) //nolint:gosec // the simulated agent's key is new at every start
		if err != nil {
			_ = conn.Close()
			return err
		}
		context.AfterFunc(ctx, func() { _ = c.Close() })
		if sess, err = gossh.NewClient(c, chans, reqs).NewSession(); err != nil {
			return err
		}
		if stdin, err = sess.StdinPipe(); err != nil {
			return err
		}
		if stdout, err = sess.StdoutPipe(); err != nil {
			return err
		}
		return sess.Shell() // the simulated agent echoes a session without a command
	})
	if err != nil {
		return
	}
	every(ctx, interval, func() error {
		return r.rec.time("ssh.echo", func() error { return ended(ctx, echoed(stdin, stdout)) })
	})
}

func (r *run) ptyTraffic(ctx context.Context, i int, interval time.Duration) {
	var c *websocket.Conn
	err := r.rec.time("pty.connect", func() error {
		u := strings.Replace(r.cfg.URL, "http", "ws", 1) + "/api/v2/workspaceagents/" + r.agents[i*r.perWorkspace()].id + "/pty?reconnect=" + uuid.NewString()
		var err error
		c, _, err = websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + r.cfg.Token}}}) //nolint:bodyclose // websocket.Dial closes it
		return err
	})
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }()
	conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
	every(ctx, interval, func() error {
		return r.rec.time("pty.echo", func() error {
			return ended(ctx, echoed(ptyInput{ctx, c}, conn))
		})
	})
}

// ptyInput writes to a web terminal: each write is a message {"data": ...}.
type ptyInput struct {
	ctx context.Context
	c   *websocket.Conn
}

func (w ptyInput) Write(p []byte) (int, error) {
	in, _ := json.Marshal(map[string]string{"data": string(p)})
	if err := w.c.Write(w.ctx, websocket.MessageText, in); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (r *run) appTraffic(ctx context.Context, i int, interval time.Duration) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	url, host := r.appAddress(ctx, r.users[i])
	every(ctx, interval, func() error {
		return r.rec.time("app.get", func() error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Host = host
			req.Header.Set("Authorization", "Bearer "+r.cfg.Token)
			res, err := hc.Do(req)
			if err != nil {
				return ended(ctx, err)
			}
			defer func() { _ = res.Body.Close() }()
			body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "echo /load") {
				return fmt.Errorf("app: %d %q", res.StatusCode, body)
			}
			return nil
		})
	})
}

// appAddress is where user's echo app is asked for: on its own host when the deployment has a
// wildcard host (the way browsers open it; the request goes to the deployment's address with the
// app's Host, as a wildcard DNS record would send it), else at its path, which the deployment
// opens for others only with --dangerous-allow-path-app-sharing. host is empty for the path.
func (r *run) appAddress(ctx context.Context, user string) (url, host string) {
	if res, err := r.api.GetApplicationsHostWithResponse(ctx); err == nil && res.JSON200 != nil && res.JSON200.Host != "" {
		if u, err := neturl.Parse(r.cfg.URL); err == nil {
			host = "echo--main--ws--" + strings.ToLower(user) + strings.TrimPrefix(res.JSON200.Host, "*")
			if u.Port() != "" {
				host += ":" + u.Port()
			}
			return strings.TrimSuffix(r.cfg.URL, "/") + "/load", host
		}
	}
	return r.cfg.URL + "/@" + user + "/ws.main/apps/echo/load", ""
}

// ended forgives the error of a call cut short because the stage ended.
func ended(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "closed")) {
		return nil
	}
	return err
}
