package codercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	var k struct {
		PrivateKey string `json:"private_key"`
	}
	err := fromAgent("/gitsshkey", &k)
	return k.PrivateKey, err
}
