package codercmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// gitssh is `coder gitssh -- ARGS`, Git's SSH command in sessions (GIT_SSH_COMMAND): ssh with the
// workspace owner's Git SSH key offered first (the one `hearth publickey` shows, to add at the Git
// host), the user's own keys and ssh settings still in play. The key is written to a private file
// for the one connection and removed after it.
func gitssh(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	key, err := gitSSHKey()
	if err != nil {
		fmt.Fprintln(stderr, "coder gitssh: the Git SSH key is not available, so ssh offers only your own keys:", err)
		return runSSH(args, stdin, stdout, stderr)
	}
	dir, err := os.MkdirTemp("", "hearth-gitssh-")
	if err != nil {
		fmt.Fprintln(stderr, "coder gitssh:", err)
		return 255
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "id")
	if err := os.WriteFile(file, []byte(key), 0o600); err != nil {
		fmt.Fprintln(stderr, "coder gitssh:", err)
		return 255
	}
	return runSSH(append([]string{"-i", file}, args...), stdin, stdout, stderr)
}

func runSSH(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := exec.CommandContext(context.Background(), "ssh", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		fmt.Fprintln(stderr, "coder gitssh:", err)
		return 255
	}
}

// gitSSHKey asks the agent for the owner's private key.
func gitSSHKey() (string, error) {
	path := os.Getenv("HEARTH_AGENT_SOCKET")
	if path == "" {
		return "", errors.New("not inside a Hearth workspace session (HEARTH_AGENT_SOCKET is not set)")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}}
	res, err := hc.Get("http://agent/gitsshkey") //nolint:noctx // a short-lived command
	if err != nil {
		return "", fmt.Errorf("the workspace's agent does not answer: %w", err)
	}
	defer res.Body.Close()
	var k struct {
		PrivateKey string `json:"private_key"`
		Message    string `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&k); err != nil || res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the agent answered %s %s", res.Status, k.Message)
	}
	return k.PrivateKey, nil
}
