package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/tunnel"
)

func sshCommand() *cobra.Command {
	var stdio, forwardAgent, tty, noTTY bool
	var env []string
	cmd := &cobra.Command{
		Use:   "ssh [OWNER/]WORKSPACE[.AGENT] [-- COMMAND...]",
		Short: "Open a shell in a workspace, or run a command there",
		Long: "Connects to the workspace's agent over WireGuard (directly, else through DERP), or through the control plane's relay when neither works " +
			"(" + connect.PathEnv + "=relay or tailnet forces one). The first connection of a session starts the CLI's keeper, " +
			"a background process that keeps its WireGuard nodes up for the next commands (" + connect.KeepEnv + "=0 turns it off). Without a command: a login shell " +
			"(with a terminal when stdin is one). With --stdio: joins stdin and stdout to the agent's SSH server, as " +
			"OpenSSH's ProxyCommand (see hearth config-ssh).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, t, err := target(ctx, args[0])
			if err != nil {
				return err
			}
			d := &connect.Dialer{Session: s, AgentID: t.AgentID, Logger: debugLogger(), Keep: true}
			defer d.Close()
			conn, err := d.Dial(ctx, tunnel.KindSSH, 0)
			if err != nil {
				return err
			}
			defer func() { _ = conn.Close() }()
			if stdio {
				tunnel.Pipe(conn, stdioConn{})
				return nil
			}
			rest := args[1:]
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			command := strings.Join(rest, " ")
			fd := int(os.Stdin.Fd()) //nolint:gosec // a file descriptor fits
			isTTY := term.IsTerminal(fd)
			o := connect.SSHOptions{Command: command, TTY: (command == "" && isTTY || tty) && !noTTY, ForwardAgent: forwardAgent,
				Env: env, Stdin: os.Stdin, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), StdinFd: fd, User: localUser()}
			err = connect.SSH(ctx, conn, o)
			var exit *connect.ExitError
			if errors.As(err, &exit) {
				return exitCode(exit.Code)
			}
			var lost *connect.LostError
			if errors.As(err, &lost) {
				fmt.Fprintln(cmd.ErrOrStderr(), "hearth: "+lost.Error())
				return exitCode(255)
			}
			return err
		},
	}
	cmd.Flags().SetInterspersed(false) // hearth ssh dev ls -la: flags after the workspace are the command's
	cmd.Flags().BoolVar(&stdio, "stdio", false, "join stdin/stdout to the agent's SSH server (for OpenSSH's ProxyCommand)")
	cmd.Flags().BoolVarP(&forwardAgent, "forward-agent", "A", false, "forward the local SSH agent")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "ask for a terminal even with a command")
	cmd.Flags().BoolVarP(&noTTY, "no-tty", "T", false, "never ask for a terminal")
	cmd.Flags().StringArrayVarP(&env, "env", "e", nil, "KEY=VALUE to set in the session (repeatable)")
	return cmd
}

// target finds the agent [OWNER/]WORKSPACE[.AGENT] names, for the signed-in session.
func target(ctx context.Context, ref string) (cliconfig.Session, connect.Target, error) {
	c, s, err := session()
	if err != nil {
		return s, connect.Target{}, err
	}
	t, err := connect.Parse(ref)
	if err != nil {
		return s, t, usageError{err}
	}
	if t, err = connect.Resolve(ctx, c, t); err != nil {
		return s, t, err
	}
	// A workspace that was just started has an agent still on its way: wait for it, as people run
	// hearth create and hearth ssh back to back. An agent that was connected and is gone is an error.
	if t.AgentStatus != "connecting" {
		return s, t, nil // connect says what is wrong, if anything
	}
	waited := false
	deadline := time.Now().Add(5 * time.Minute)
	// Looked at often at first: an agent that is only taking its new token (a claimed prebuild)
	// reconnects within milliseconds.
	pause := 25 * time.Millisecond
	for {
		a, err := client.Ok(c.GetWorkspaceAgentWithResponse(ctx, t.AgentID))
		if err != nil {
			return s, t, remote(s.URL, err)
		}
		if a.JSON200.Status != "connecting" || time.Now().After(deadline) {
			return s, t, nil // connect says what is wrong, if anything
		}
		if !waited {
			fmt.Fprintf(os.Stderr, "Waiting for the agent %s of %s to connect...\n", t.Agent, t.Workspace)
			waited = true
		}
		select {
		case <-ctx.Done():
			return s, t, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// exitCode carries a remote command's exit status out of hearth ssh, printed by nobody.
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "hearth"
}

// stdioConn is stdin and stdout as one connection.
type stdioConn struct{}

func (stdioConn) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdioConn) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdioConn) Close() error                { return os.Stdout.Close() }
func (stdioConn) CloseWrite() error           { return os.Stdout.Close() }

// The managed block of ~/.ssh/config.
const (
	sshBlockStart = "# ------------START-HEARTH------------"
	sshBlockEnd   = "# ------------END-HEARTH--------------"
)

func configSSHCommand() *cobra.Command {
	var file string
	var remove bool
	cmd := &cobra.Command{
		Use:   "config-ssh",
		Short: "Let OpenSSH (ssh, scp, rsync, VS Code Remote-SSH) reach workspaces as WORKSPACE.hearth",
		Long: "Writes a managed block into ~/.ssh/config: Host *.hearth with a ProxyCommand running hearth ssh --stdio. " +
			"Afterwards ssh dev.hearth, scp file dev.hearth:, rsync and IDEs work with every workspace you own. Run again to update; --remove takes the block out.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return err
				}
				file = filepath.Join(home, ".ssh", "config")
			}
			old, err := os.ReadFile(file) //nolint:gosec // the user's own ssh config
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			block := ""
			if !remove {
				s, err := cliconfig.Load()
				if err != nil {
					return err
				}
				self, err := os.Executable()
				if err != nil {
					return err
				}
				block = sshBlock(self, os.Getenv("HEARTH_CONFIG_DIR"), s.Name)
			}
			updated := replaceBlock(string(old), block)
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(file, []byte(updated), 0o600); err != nil {
				return err
			}
			if remove {
				fmt.Fprintf(cmd.OutOrStdout(), "Removed the Hearth block from %s.\n", file)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Updated %s: ssh WORKSPACE.hearth now reaches your workspaces.\n", file)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "ssh-config-file", "", "the OpenSSH config file (default ~/.ssh/config)")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the managed block")
	return cmd
}

// sshBlock is the managed block: every *.hearth host goes through hearth ssh --stdio, on the named
// deployment when there is one.
func sshBlock(self, configDir, deployment string) string {
	proxy := strconv.Quote(self) + " ssh --stdio %h"
	if deployment != "" {
		proxy = strconv.Quote(self) + " ssh --deployment " + strconv.Quote(deployment) + " --stdio %h"
	}
	if configDir != "" {
		proxy = "env HEARTH_CONFIG_DIR=" + strconv.Quote(configDir) + " " + proxy
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, sshBlockStart)
	fmt.Fprintln(&b, "# Written by hearth config-ssh; changes inside this block are overwritten.")
	fmt.Fprintln(&b, "Host *.hearth")
	fmt.Fprintln(&b, "  ProxyCommand "+proxy)
	fmt.Fprintln(&b, "  ConnectTimeout 0")
	fmt.Fprintln(&b, "  StrictHostKeyChecking no")
	fmt.Fprintln(&b, "  UserKnownHostsFile /dev/null")
	fmt.Fprintln(&b, "  LogLevel ERROR")
	fmt.Fprintln(&b, sshBlockEnd)
	return b.String()
}

// replaceBlock puts block in place of the managed block of config, or at its end.
func replaceBlock(config, block string) string {
	start := strings.Index(config, sshBlockStart)
	end := strings.Index(config, sshBlockEnd)
	if start >= 0 && end > start {
		rest := strings.TrimPrefix(config[end+len(sshBlockEnd):], "\n")
		return config[:start] + block + rest
	}
	if block == "" {
		return config
	}
	if config != "" && !strings.HasSuffix(config, "\n") {
		config += "\n"
	}
	if config != "" {
		config += "\n"
	}
	return config + block
}

func portForwardCommand() *cobra.Command {
	var tcp []string
	cmd := &cobra.Command{
		Use:   "port-forward [OWNER/]WORKSPACE[.AGENT] --tcp [LOCAL:]REMOTE ...",
		Short: "Forward local TCP ports to ports in a workspace",
		Long:  "Listens on 127.0.0.1:LOCAL and joins each connection to REMOTE on the workspace's loopback, until interrupted.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(tcp) == 0 {
				return usageError{errors.New("name at least one port with --tcp [LOCAL:]REMOTE")}
			}
			type pair struct{ local, remote int }
			var pairs []pair
			for _, spec := range tcp {
				l, r, ok := strings.Cut(spec, ":")
				if !ok {
					r = l
				}
				lp, err1 := strconv.Atoi(l)
				rp, err2 := strconv.Atoi(r)
				if err1 != nil || err2 != nil || lp < 0 || lp > 65535 || rp < 1 || rp > 65535 {
					return usageError{fmt.Errorf("--tcp %s: want [LOCAL:]REMOTE port numbers", spec)}
				}
				pairs = append(pairs, pair{lp, rp})
			}
			s, t, err := target(ctx, args[0])
			if err != nil {
				return err
			}
			d := &connect.Dialer{Session: s, AgentID: t.AgentID, Logger: debugLogger(), Keep: true}
			defer d.Close()
			var lns []net.Listener
			defer func() {
				for _, ln := range lns {
					_ = ln.Close()
				}
			}()
			for _, p := range pairs {
				ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.local)))
				if err != nil {
					return err
				}
				lns = append(lns, ln)
				fmt.Fprintf(cmd.OutOrStdout(), "Forwarding %s to port %d in %s.\n", ln.Addr(), p.remote, t.Workspace)
				go forward(ctx, ln, d, p.remote, cmd)
			}
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&tcp, "tcp", nil, "[LOCAL:]REMOTE TCP port to forward (repeatable)")
	return cmd
}

func forward(ctx context.Context, ln net.Listener, d *connect.Dialer, port int, cmd *cobra.Command) {
	for {
		local, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			remote, err := d.Dial(ctx, tunnel.KindTCP, port)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "hearth: port %d: %v\n", port, err)
				_ = local.Close()
				return
			}
			tunnel.Pipe(local, remote)
		}()
	}
}
