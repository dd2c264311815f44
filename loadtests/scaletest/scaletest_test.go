package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/tftest"
)

// The harness's smoke run, so it cannot rot: 20 simulated agents (each coordinating a WireGuard
// node as well) against a server it starts itself (the real binary, embedded PostgreSQL, built-in
// workers, real Terraform), held for 15 seconds.
// Run fails on any error or dropped tunnel; the figures are not judged here.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and builds 20 workspaces")
	}
	bin := filepath.Join(t.TempDir(), "hearth")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/hearth").CombinedOutput()
	require.NoError(t, err, string(out))

	rep, err := Run(context.Background(), Config{Local: true, Binary: bin, Mirror: tftest.Mirror(t), Provisioners: 3,
		Agents: 20, Duration: 15 * time.Second, Interval: 2 * time.Second, Concurrency: 8, DashboardRPS: 20,
		TrafficSessions: 3, TrafficInterval: 500 * time.Millisecond, SigninRPS: 2, ChurnWorkspaces: 2, Tailnet: true, Timeout: 5 * time.Minute}, os.Stderr)
	require.NoError(t, err)
	require.Equal(t, int64(0), rep.Drops)
	stages := map[string]Stage{}
	for _, s := range rep.Stages {
		stages[s.Name] = s
	}
	require.Contains(t, stages, "cleanup")
	// Every agent coordinated a WireGuard node too (the connect stage waits for it).
	coordinated := OpStats{}
	for _, o := range stages["connect"].Ops {
		if o.Op == "tailnet.coordinate-connect" {
			coordinated = o
		}
	}
	require.Equal(t, 20, coordinated.Count, "agents that coordinated: %+v", stages["connect"].Ops)
	require.Zero(t, coordinated.Errors)
	ops := map[string]OpStats{}
	for _, o := range stages["steady"].Ops {
		ops[o.Op] = o
	}
	// 20 agents (18 steady) reporting every 2 s for 15 s: about 135 reports, all answered.
	require.Greater(t, ops["agent.metadata"].Count, 60)
	require.Zero(t, ops["agent.metadata"].Errors)
	require.Greater(t, stages["steady"].Usage.ServerRSSMiB, 0.0, "the server was sampled")
	// 20 dashboard reads a second, spread over five kinds, all answered.
	for _, op := range []string{"dashboard.users-me", "dashboard.workspaces", "dashboard.workspace", "dashboard.templates", "dashboard.build-logs"} {
		require.Greater(t, ops[op].Count, 10, op)
		require.Zero(t, ops[op].Errors, op)
	}
	// Three workspaces with an SSH session, a terminal and app requests every half second.
	for _, op := range []string{"ssh.connect", "pty.connect"} {
		require.Equal(t, 3, ops[op].Count, op)
		require.Zero(t, ops[op].Errors, op)
	}
	for _, op := range []string{"ssh.echo", "pty.echo", "app.get"} {
		require.Greater(t, ops[op].Count, 30, op)
		require.Zero(t, ops[op].Errors, op)
	}
	// Two sign-ins a second, each from an address of its own.
	for _, op := range []string{"signin.login", "signin.users-me", "signin.logout"} {
		require.Greater(t, ops[op].Count, 10, op)
		require.Zero(t, ops[op].Errors, op)
	}
	// Two workspaces stopped and started over and over: a whole cycle at least, its new agent connected.
	for _, op := range []string{"churn.stop", "churn.start"} {
		require.GreaterOrEqual(t, ops[op].Count, 1, op)
		require.Zero(t, ops[op].Errors, op)
	}
	// The database's writes were read from the server's metrics: the agents' metadata among them.
	w := stages["steady"].Writes
	require.NotNil(t, w)
	require.Greater(t, w.TransactionsPerSec, 0.0)
	require.Greater(t, w.MetadataRowsPerAgentPerSec, 0.0)
}

func TestThresholds(t *testing.T) {
	ops := []OpStats{{Op: "dashboard.workspaces", P95: 120}, {Op: "agent.metadata", P95: 20}}
	require.NoError(t, overThreshold(ops, nil))
	require.NoError(t, overThreshold(ops, map[string]float64{"agent.metadata": 50, "dashboard.*": 150}))
	require.ErrorContains(t, overThreshold(ops, map[string]float64{"dashboard.*": 100}), "dashboard.workspaces p95 120.0 ms is over its threshold of 100 ms")
	require.ErrorContains(t, overThreshold(ops, map[string]float64{"agent.metadata": 10}), "agent.metadata")
	require.NoError(t, overThreshold(ops, map[string]float64{"agent.metadata.x": 1, "dash": 1}), "neither names an operation")
}

func TestRefusesRemoteTargets(t *testing.T) {
	require.NoError(t, checkTarget("http://127.0.0.1:3000", false))
	require.NoError(t, checkTarget("http://[::1]:3000", false))
	require.NoError(t, checkTarget("http://localhost:3000", false))
	require.ErrorContains(t, checkTarget("https://hearth.example.com", false), "--allow-remote")
	require.ErrorContains(t, checkTarget("http://10.0.0.5:3000", false), "--allow-remote")
	require.NoError(t, checkTarget("https://hearth.example.com", true))
	_, err := Run(context.Background(), Config{URL: "https://hearth.example.com", Token: "x", Agents: 1, Timeout: time.Minute}, os.Stderr)
	require.ErrorContains(t, err, "not on loopback")
}
