package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hearthdev/hearth/client"
)

// localServer is a hearth server the run started: embedded PostgreSQL in a temporary directory,
// built-in workers, a first user whose session the run uses.
type localServer struct {
	url, token string
	pid        int
	cmd        *exec.Cmd
	dir        string
	logf       func(string, ...any)
}

func startLocal(ctx context.Context, cfg Config, logf func(string, ...any)) (*localServer, error) {
	mirror, err := filepath.Abs(cfg.Mirror)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.Binary); err != nil {
		return nil, fmt.Errorf("--binary: %w (go tool task build makes bin/hearth)", err)
	}
	dir, err := os.MkdirTemp("", "hearth-scaletest-server-")
	if err != nil {
		return nil, err
	}
	// Running as root, the embedded PostgreSQL runs as another user, which must get through.
	if err := os.Chmod(dir, 0o711); err != nil { //nolint:gosec // traversal only
		return nil, err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Binary, "server", "--data-dir", dir, "--http-address", addr, //nolint:gosec,noctx // the binary the user named; stopped by stop
		"--provisioners", strconv.Itoa(cfg.Provisioners), "--provider-mirror", mirror, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &localServer{url: "http://" + addr, pid: cmd.Process.Pid, cmd: cmd, dir: dir, logf: logf}
	logf("local server: %s (pid %d, data and log in %s)", s.url, s.pid, dir)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := http.Get(s.url + "/healthz") //nolint:noctx // bounded by the loop's deadline
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil || cmd.ProcessState != nil {
			out, _ := os.ReadFile(logFile.Name())
			s.stop()
			return nil, fmt.Errorf("the local server did not come up: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	api, err := client.Dial(s.url, "", "scaletest")
	if err != nil {
		s.stop()
		return nil, err
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	password := hex.EncodeToString(pw)
	first, err := api.CreateFirstUserWithResponse(ctx, client.CreateFirstUserJSONRequestBody{Username: "admin", Email: "admin@scaletest.example.com", Password: password})
	if err == nil {
		err = client.Check(first.HTTPResponse, first.Body)
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("first user: %w", err)
	}
	login, err := api.LoginWithResponse(ctx, client.LoginJSONRequestBody{Login: "admin", Password: password})
	if err == nil {
		err = client.Check(login.HTTPResponse, login.Body)
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("sign in: %w", err)
	}
	s.token = login.JSON200.SessionToken
	return s, nil
}

// printLog writes the last lines of the server's log to w, for a run that failed.
func (s *localServer) printLog(w io.Writer) {
	data, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	fmt.Fprintf(w, "\nthe server's last log lines (its log goes with its directory):\n%s\n", strings.Join(lines[max(0, len(lines)-40):], "\n"))
}

// stop ends the server (SIGTERM, then SIGKILL after 30 s) and removes its directory.
func (s *localServer) stop() {
	_ = syscall.Kill(-s.pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.pid, syscall.SIGKILL)
		<-done
	}
	_ = os.RemoveAll(s.dir)
}
