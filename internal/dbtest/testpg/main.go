// Command testpg runs a command (normally go test) with one throwaway PostgreSQL cluster shared by
// every test binary it starts, named in HEARTH_TEST_POSTGRES_URL, and removes the cluster afterwards.
//
//	go run ./internal/dbtest/testpg -- go test ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/pgembed"
)

func main() {
	os.Exit(run())
}

func run() int {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testpg -- COMMAND [ARG...]")
		return 2
	}
	if os.Getenv(dbtest.EnvURL) != "" {
		return runCommand(args) // a server is already given: nothing to start
	}
	dir, err := os.MkdirTemp("", "hearth-testpg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testpg:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o711); err != nil {
		fmt.Fprintln(os.Stderr, "testpg:", err)
		return 1
	}
	ctx := context.Background()
	start := time.Now()
	cluster, err := pgembed.Start(ctx, pgembed.Config{Dir: dir + "/pg", NoSync: true, Settings: dbtest.Settings, Database: "postgres"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testpg:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "testpg: PostgreSQL for the tests ready in %s\n", time.Since(start).Round(time.Millisecond))
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = cluster.Stop(stopCtx)
	}()
	os.Setenv(dbtest.EnvURL, cluster.URL())
	return runCommand(args)
}

func runCommand(args []string) int {
	cmd := exec.Command(args[0], args[1:]...) //nolint:noctx // runs until it exits; interrupts reach it directly
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Interrupts reach the command through the terminal's process group; wait for it to finish so
	// the cluster is stopped afterwards.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testpg:", err)
		return 1
	}
	return 0
}
