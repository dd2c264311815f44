// Package dockerhost talks to a Docker engine's API (over its unix socket or plain TCP) for what
// Hearth does on a Docker host itself: finding the containers and volumes that templates labelled
// with their workspace (Coder's coder.workspace_id label), and removing those whose workspace is gone.
package dockerhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// WorkspaceLabel is the label Coder's templates (and Hearth's examples) put on a workspace's
// containers and volumes, with the workspace's ID.
const WorkspaceLabel = "coder.workspace_id"

// DefaultHost is DOCKER_HOST, else the engine's usual socket.
func DefaultHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// Engine is a Docker engine's API.
type Engine struct {
	host string
	base string
	http *http.Client
}

// Open returns the engine at host (unix:///path or tcp://host:port); nothing is sent yet.
func Open(host string) (*Engine, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	e := &Engine{host: host, http: &http.Client{Timeout: 30 * time.Second}}
	switch u.Scheme {
	case "unix":
		path := u.Path
		e.base = "http://docker"
		e.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}
	case "tcp", "http":
		e.base = "http://" + u.Host
	default:
		return nil, fmt.Errorf("docker host %q: only unix:// and tcp:// (without TLS) are supported here", host)
	}
	return e, nil
}

// Resource is a labelled container or volume.
type Resource struct {
	Kind        string `json:"kind"` // container or volume
	Name        string `json:"name"`
	ID          string `json:"id"`
	State       string `json:"state,omitempty"` // a container's: running, exited, …
	WorkspaceID string `json:"workspace_id"`
}

func (e *Engine) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, nil)
	if err != nil {
		return err
	}
	res, err := e.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach Docker at %s: %w", e.host, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode >= 300 {
		var m struct{ Message string }
		_ = json.Unmarshal(body, &m)
		return fmt.Errorf("docker %s %s: %d %s", method, strings.SplitN(path, "?", 2)[0], res.StatusCode, m.Message)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// Labelled lists the containers (stopped ones too) and volumes that carry WorkspaceLabel.
func (e *Engine) Labelled(ctx context.Context) ([]Resource, error) {
	filter := url.QueryEscape(`{"label":["` + WorkspaceLabel + `"]}`)
	var containers []struct {
		ID     string `json:"Id"`
		Names  []string
		State  string
		Labels map[string]string
	}
	if err := e.do(ctx, http.MethodGet, "/containers/json?all=1&filters="+filter, &containers); err != nil {
		return nil, err
	}
	var out []Resource
	for _, c := range containers {
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, Resource{Kind: "container", Name: name, ID: c.ID, State: c.State, WorkspaceID: c.Labels[WorkspaceLabel]})
	}
	var volumes struct {
		Volumes []struct {
			Name   string
			Labels map[string]string
		}
	}
	if err := e.do(ctx, http.MethodGet, "/volumes?filters="+filter, &volumes); err != nil {
		return nil, err
	}
	for _, v := range volumes.Volumes {
		out = append(out, Resource{Kind: "volume", Name: v.Name, ID: v.Name, WorkspaceID: v.Labels[WorkspaceLabel]})
	}
	return out, nil
}

// Remove removes a container (running or not) or a volume.
func (e *Engine) Remove(ctx context.Context, r Resource) error {
	switch r.Kind {
	case "container":
		return e.do(ctx, http.MethodDelete, "/containers/"+url.PathEscape(r.ID)+"?force=1&v=0", nil)
	case "volume":
		return e.do(ctx, http.MethodDelete, "/volumes/"+url.PathEscape(r.ID), nil)
	}
	return errors.New("dockerhost: unknown kind " + r.Kind)
}
