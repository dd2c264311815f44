package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"
)

// SSHOptions are what an SSH session runs and with what.
type SSHOptions struct {
	// Command runs instead of the login shell when not empty.
	Command string
	// TTY asks for a terminal; it is on for a shell when Stdin is a terminal.
	TTY bool
	// ForwardAgent forwards the local SSH agent (SSH_AUTH_SOCK).
	ForwardAgent bool
	// Env are extra KEY=VALUE variables for the session.
	Env            []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	StdinFd        int
	User           string
}

// ExitError is a remote command's non-zero exit status.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("the command exited with %d", e.Code) }

// LostError is a session that ended without its command's exit status: the connection to the
// agent was lost (the workspace stopped, the server withdrew access to it).
type LostError struct{}

func (e *LostError) Error() string {
	return "the connection to the workspace ended before the command did (the workspace stopped, or your access to it ended)"
}

// SSH runs one SSH session over conn (a connection of kind ssh) and returns its exit status as an
// *ExitError when it is not zero.
func SSH(ctx context.Context, conn net.Conn, o SSHOptions) error {
	// The connection is authenticated by the control plane (TLS to the deployment and the user's
	// token); the agent's host key is made fresh at each start, so there is nothing to pin.
	cc, chans, reqs, err := ssh.NewClientConn(conn, "workspace", &ssh.ClientConfig{User: o.User,
		HostKeyCallback: ssh.InsecureIgnoreHostKey()}) //nolint:gosec // see above
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	c := ssh.NewClient(cc, chans, reqs)
	defer func() { _ = c.Close() }()
	s, err := c.NewSession()
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	defer func() { _ = s.Close() }()
	if o.ForwardAgent {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			if err := agent.ForwardToRemote(c, sock); err == nil {
				_ = agent.RequestAgentForwarding(s)
			}
		}
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		_ = s.Setenv(k, v)
	}
	s.Stdout, s.Stderr = o.Stdout, o.Stderr
	stdin, err := s.StdinPipe()
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	if o.TTY {
		w, h, err := term.GetSize(o.StdinFd)
		if err != nil {
			w, h = 80, 24
		}
		t := os.Getenv("TERM")
		if t == "" {
			t = "xterm-256color"
		}
		if err := s.RequestPty(t, h, w, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
			return fmt.Errorf("ssh: %w", err)
		}
		if old, err := term.MakeRaw(o.StdinFd); err == nil {
			defer func() { _ = term.Restore(o.StdinFd, old) }()
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if w, h, err := term.GetSize(o.StdinFd); err == nil {
					_ = s.WindowChange(h, w)
				}
			}
		}()
	}
	if o.Command == "" {
		err = s.Shell()
	} else {
		err = s.Start(o.Command)
	}
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	go func() {
		_, _ = io.Copy(stdin, o.Stdin)
		_ = stdin.Close()
	}()
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case errors.As(err, &ee):
		return &ExitError{Code: ee.ExitStatus()}
	case errors.As(err, &missing):
		// The session's channel closed with no exit status: the connection itself ended.
		return &LostError{}
	case err != nil:
		return fmt.Errorf("ssh: %w", err)
	}
	return nil
}
