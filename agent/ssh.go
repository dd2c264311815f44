package agent

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"github.com/gliderlabs/ssh"
	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
)

// The SSH server is reached only through the tunnel, whose connections the control plane has
// already authorized (the workspace's owner), so it asks for no credentials of its own.
var (
	sshOnce   sync.Once
	sshServer *ssh.Server
)

// serveSSH runs one SSH connection over conn.
func (a *agent) serveSSH(conn net.Conn) {
	sshOnce.Do(func() { sshServer = a.newSSHServer() })
	a.stats.sessionsSSH.Add(1)
	defer a.stats.sessionsSSH.Add(-1)
	sshServer.HandleConn(conn)
}

func (a *agent) newSSHServer() *ssh.Server {
	_, key, _ := ed25519.GenerateKey(rand.Reader) // crypto/rand does not fail
	signer, _ := gossh.NewSignerFromKey(key)
	fwd := &ssh.ForwardedTCPHandler{}
	return &ssh.Server{
		Handler:     a.sshSession,
		HostSigners: []ssh.Signer{signer},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{
			"sftp": a.sftpSession,
		},
		ChannelHandlers: map[string]ssh.ChannelHandler{
			"session":      ssh.DefaultSessionHandler,
			"direct-tcpip": ssh.DirectTCPIPHandler,
		},
		RequestHandlers: map[string]ssh.RequestHandler{
			"tcpip-forward":        fwd.HandleSSHRequest,
			"cancel-tcpip-forward": fwd.HandleSSHRequest,
		},
		LocalPortForwardingCallback:   func(ssh.Context, string, uint32) bool { return true },
		ReversePortForwardingCallback: func(ssh.Context, string, uint32) bool { return true },
	}
}

// sshSession runs a shell or a command, with a terminal when one was asked for.
func (a *agent) sshSession(s ssh.Session) {
	select {
	case <-a.loginReady: // at once unless a startup script blocks login
	case <-s.Context().Done():
		return
	}
	ptyReq, winCh, isPTY := s.Pty()
	cmd := a.command(s.RawCommand())
	cmd.Env = append(cmd.Env, s.Environ()...)
	if ssh.AgentRequested(s) {
		l, err := ssh.NewAgentListener()
		if err != nil {
			a.cfg.Logger.Warn("agent: cannot forward the SSH agent", "error", err)
		} else {
			defer func() { _ = l.Close() }()
			go ssh.ForwardAgentConnections(l, s)
			cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+l.Addr().String())
		}
	}
	if isPTY {
		cmd.Env = append(cmd.Env, "TERM="+ptyReq.Term)
		if s.RawCommand() == "" {
			a.motd(s)
		}
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: uint16(ptyReq.Window.Height), Cols: uint16(ptyReq.Window.Width)}) //nolint:gosec // terminal sizes fit
		if err != nil {
			_, _ = io.WriteString(s.Stderr(), "hearth agent: cannot start a terminal: "+err.Error()+"\r\n")
			_ = s.Exit(255)
			return
		}
		defer func() { _ = f.Close() }()
		go func() {
			for w := range winCh {
				_ = pty.Setsize(f, &pty.Winsize{Rows: uint16(w.Height), Cols: uint16(w.Width)}) //nolint:gosec // terminal sizes fit
			}
		}()
		go func() { _, _ = io.Copy(f, s) }()
		_, _ = io.Copy(s, f) // ends when the process and its children close the terminal
		_ = s.Exit(exitCode(cmd.Wait()))
		return
	}
	cmd.Stdout = s
	cmd.Stderr = s.Stderr()
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		_, _ = io.WriteString(s.Stderr(), "hearth agent: "+err.Error()+"\n")
		_ = s.Exit(255)
		return
	}
	// Not waited for: a command that never reads its input must not wait for the client's EOF.
	go func() {
		_, _ = io.Copy(stdin, s)
		_ = stdin.Close()
	}()
	_ = s.Exit(exitCode(cmd.Wait()))
}

// command is the user's login shell, or the shell running raw.
func (a *agent) command(raw string) *exec.Cmd {
	shell := userShell()
	var cmd *exec.Cmd
	if raw == "" {
		cmd = exec.Command(shell, "-l") //nolint:gosec,noctx // the user's own shell, ended by the session
	} else {
		cmd = exec.Command(shell, "-c", raw) //nolint:gosec,noctx // what the workspace's owner asked to run
	}
	cmd.Dir = a.workDir()
	cmd.Env = a.sessionEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

func (a *agent) motd(w io.Writer) {
	if a.manifest.MotdFile == "" {
		return
	}
	data, err := os.ReadFile(expandDir(a.manifest.MotdFile))
	if err == nil {
		_, _ = w.Write([]byte(strings.ReplaceAll(string(data), "\n", "\r\n")))
	}
}

// sftpSession serves SFTP, starting in the agent's directory.
func (a *agent) sftpSession(s ssh.Session) {
	srv, err := sftp.NewServer(s, sftp.WithServerWorkingDirectory(a.workDir()))
	if err != nil {
		_ = s.Exit(1)
		return
	}
	defer func() { _ = srv.Close() }()
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		_ = s.Exit(1)
		return
	}
	_ = s.Exit(0)
}

// exitCode is a finished command's exit status as SSH reports it (128+N for a signal).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}

// userShell is the agent user's login shell from /etc/passwd, else $SHELL, else /bin/sh.
func userShell() string {
	if u, err := user.Current(); err == nil {
		if f, err := os.Open("/etc/passwd"); err == nil {
			defer func() { _ = f.Close() }()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fields := strings.Split(sc.Text(), ":")
				if len(fields) == 7 && fields[0] == u.Username && fields[6] != "" &&
					!strings.HasSuffix(fields[6], "nologin") && !strings.HasSuffix(fields[6], "false") {
					return fields[6]
				}
			}
		}
	}
	if s := os.Getenv("SHELL"); s != "" {
		return s
	}
	return "/bin/sh"
}
