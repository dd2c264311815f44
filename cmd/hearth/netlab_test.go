package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/netlab"
	"github.com/hearthdev/hearth/internal/tailnet"
	"github.com/hearthdev/hearth/internal/tftest"
)

// Paths across real networks. The server sits on a public segment (203.0.113.0/24); the workspace
// and the developer are each behind a NAT router of their own, as at home or in an office. A
// direct WireGuard path forms through both NATs; with UDP blocked at the developer's router,
// connections go through DERP; with the DERP upgrade refused there too, through the relay. hearth
// ssh works on each path.
func TestPathsThroughNAT(t *testing.T) {
	t.Parallel()
	w := behindNATs(t, false)
	run := w.run

	// Direct: through both NATs, to the workspace router's public address.
	out := run(nil, "ping", "dev", "-n", "10", "--interval", "200ms")
	t.Logf("through both NATs:\n%s", out)
	require.Contains(t, out, "pong from dev via direct 203.0.113.10:", "no direct path through the NATs in:\n%s", out)
	require.Equal(t, "hi\n", run([]string{"HEARTH_CONNECTION_PATH=tailnet"}, "ssh", "dev", "--", "echo", "hi"))
	out = run(nil, "speedtest", "dev", "-t", "300ms", "--direct-wait", "20s") // a loaded machine may take more than the default 3 s
	require.Contains(t, out, "Path:     direct to 203.0.113.10:", out)

	// UDP blocked at the developer's router: netcheck says so, WireGuard goes through DERP.
	w.devRouter.Firewall("-p", "udp", "-j", "DROP")
	var report tailnet.NetReport
	out = run(nil, "netcheck", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &report), out)
	require.False(t, report.UDP, out)
	out = run(nil, "ping", "dev", "-n", "3", "--interval", "200ms")
	require.Contains(t, out, "pong from dev via DERP(hearth)", out)
	require.NotContains(t, out, "via direct", out)
	require.Equal(t, "hi\n", run([]string{"HEARTH_CONNECTION_PATH=tailnet"}, "ssh", "dev", "--", "echo", "hi"))
	out = run(nil, "speedtest", "dev", "-t", "300ms", "--direct-wait", "500ms")
	require.Contains(t, out, "Path:     DERP(hearth): no direct path after 500ms, so this measures DERP", out)

	// DERP refused there too (a proxy that drops the DERP upgrade): the relay, still working.
	w.devRouter.Firewall("-p", "tcp", "-m", "string", "--algo", "bm", "--string", "Upgrade: DERP", "-j", "REJECT", "--reject-with", "tcp-reset")
	out = run(nil, "ping", "dev", "-n", "1")
	require.Contains(t, out, "pong from dev via relay", out)
	require.Equal(t, "hi\n", run(nil, "ssh", "dev", "--", "echo", "hi"))
}

// A replica reaches an agent behind NAT over WireGuard from its own node. The agent's tunnel is
// held by replica B; the developer's connections (relayed, as the web terminal's and apps' are) go
// to replica A, which finds a direct path through the workspace's NAT, and DERP once UDP is
// blocked there.
func TestReplicaReachesAgentBehindNAT(t *testing.T) {
	t.Parallel()
	w := behindNATs(t, true)
	relayed := []string{connect.PathEnv + "=relay"}
	streams := func() map[string]float64 {
		out, err := w.inet.Command("curl", "-fsS", w.a+"/metrics").Output()
		require.NoError(t, err)
		return streamsByPath(parseMetrics(string(out)))
	}
	// The first streams may go through DERP while the nodes still look for each other's endpoints.
	until := func(path string) map[string]float64 {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		m := streams()
		for n := m[`hearth_agent_streams_total{path="`+path+`"}`]; ; {
			require.Equal(t, "hi\n", w.run(relayed, "ssh", "dev", "--", "echo", "hi"))
			m = streams()
			if m[`hearth_agent_streams_total{path="`+path+`"}`] > n {
				return m
			}
			require.True(t, time.Now().Before(deadline), "no stream went %s; replica A's streams by path: %v", path, m)
			time.Sleep(200 * time.Millisecond)
		}
	}
	m := until("direct")
	t.Logf("replica A's streams by path: %v", m)

	// UDP blocked at the workspace's router: the next streams go through DERP (once WireGuard has
	// given up on the direct path; meanwhile they still work, through DERP or the relay).
	w.wsRouter.Firewall("-p", "udp", "-j", "DROP")
	m = until("derp")
	t.Logf("replica A's streams by path: %v", m)
}

// labNetworks are the public segment and the networks behind the NATs.
const labNetworks = "203.0.113.0/24,198.18.0.0/15"

// natWorkspace is a workspace and a developer each behind a NAT router of their own, with the
// server on the public segment between them.
type natWorkspace struct {
	c cli
	// devRouter is the developer's NAT router, wsRouter the workspace's, for firewall rules.
	devRouter, wsRouter *netlab.Namespace
	// inet is the public segment's namespace; a is the URL of the replica the developer uses.
	inet *netlab.Namespace
	a    string
}

// run runs the CLI on the developer's machine and fails the test unless it succeeds.
func (w *natWorkspace) run(env []string, args ...string) string {
	w.c.t.Helper()
	out, errOut, code := w.c.runEnv(env, "", args...)
	require.Equal(w.c.t, 0, code, "hearth %v: %s%s", args, out, errOut)
	return out
}

// behindNATs builds the networks (network namespaces), starts the server, a provisioner worker
// beside the workspace and the workspace "dev", and signs the developer in. With secondReplica, a
// second replica on the public segment holds the agent's tunnel (the template's agent_url).
func behindNATs(t testing.TB, secondReplica bool) *natWorkspace {
	t.Helper()
	lab := netlab.New(t)
	inet, natA, natC := lab.Namespace("inet"), lab.Namespace("nat-ws"), lab.Namespace("nat-dev")
	workspace, laptop := lab.Namespace("ws"), lab.Namespace("dev")
	lab.Link(natA, "wan", "203.0.113.10/24", inet, "to-ws", "")
	lab.Link(natC, "wan", "203.0.113.20/24", inet, "to-dev", "")
	inet.Switch("br0", "203.0.113.1/24", "to-ws", "to-dev")
	lab.Link(workspace, "eth0", "198.18.1.2/24", natA, "lan", "198.18.1.1/24")
	lab.Link(laptop, "eth0", "198.18.2.2/24", natC, "lan", "198.18.2.1/24")
	workspace.Route("198.18.1.1")
	laptop.Route("198.18.2.1")
	natA.NAT("wan")
	natC.NAT("wan")

	// The server on the public segment, its provisioner worker (and so the workspace's agent)
	// behind the first NAT, the CLI behind the second.
	dir := t.TempDir()
	psk := filepath.Join(dir, "psk")
	require.NoError(t, os.WriteFile(psk, []byte("a-test-provisioner-key-0123456789\n"), 0o600))
	// Every process here may use the lab's networks for direct paths (the tests' default is loopback).
	env := append(os.Environ(), tailnet.EndpointsEnv+"="+labNetworks)
	pg := dbtest.NewURL(t)
	server := inet.Command(binary, "server", "--http-address", "203.0.113.1:0", "--postgres-url", pg,
		"--data-dir", filepath.Join(dir, "server"), "--provisioners", "0", "--provisioner-psk-file", psk,
		"--derp=true", "--stun-address", "203.0.113.1:3478", "--tailnet-endpoints", labNetworks)
	server.Env = env
	s := startServerCmd(t, server)
	worker := workspace.Command(binary, "provisioner", "start", "--url", s.url, "--psk-file", psk, "--name", "behind-nat",
		"--work-dir", filepath.Join(dir, "worker"), "--provider-mirror", tftest.Mirror(t))
	worker.Env = append(env, "HEARTH_LOG_LEVEL=warn")
	worker.Stderr = os.Stderr
	require.NoError(t, worker.Start())
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })

	agentURL := ""
	if secondReplica {
		replica := inet.Command(binary, "server", "--http-address", "203.0.113.1:0", "--postgres-url", pg,
			"--data-dir", filepath.Join(dir, "server-b"), "--provisioners", "0", "--secret-key-file", filepath.Join(dir, "server", "secret.key"),
			"--derp=true", "--stun-address", "203.0.113.1:3479", "--tailnet-endpoints", labNetworks)
		replica.Env = env
		agentURL = startServerCmd(t, replica).url
	}
	w := &natWorkspace{devRouter: natC, wsRouter: natA, inet: inet, a: s.url, c: cli{t: t, dir: filepath.Join(dir, "cli"), ns: laptop,
		env: []string{"HEARTH_CONNECTION_PATH=auto", tailnet.EndpointsEnv + "=" + labNetworks}}}
	run := w.run
	run(nil, "login", s.url, "--first-user-username", "ada", "--first-user-email", "ada@example.com", "--first-user-password", "correct-horse")
	run(nil, "templates", "push", "../../examples/templates/local", "--name", "local", "--activate", "--yes",
		"--variable", "workspaces_dir="+filepath.Join(dir, "workspaces"), "--variable", "agent_url="+agentURL)
	run(nil, "create", "dev", "--template", "local", "--yes")
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "workspaces", "ada", "dev", ".hearth", "agent.log"))
			t.Logf("the agent's log:\n%s", log)
		}
	})
	require.Equal(t, "hi\n", run(nil, "ssh", "dev", "--", "echo", "hi"))
	return w
}

// BenchmarkPathsThroughNAT measures hearth ssh and the speed test between the developer and the
// workspace behind their NATs, directly and (with UDP blocked at the developer's router) through
// DERP:
//
//	go test ./cmd/hearth -run '^$' -bench PathsThroughNAT -benchtime 20x
func BenchmarkPathsThroughNAT(b *testing.B) {
	w := behindNATs(b, false)
	measure := func(path string) {
		b.Run("ssh-echo-"+path, func(b *testing.B) {
			var times []time.Duration
			for range b.N {
				start := time.Now()
				out := w.run([]string{connect.PathEnv + "=tailnet"}, "ssh", "dev", "--", "echo", "hi")
				times = append(times, time.Since(start))
				require.Equal(b, "hi\n", out)
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
		})
		b.Run("speedtest-"+path, func(b *testing.B) {
			var up, down float64
			for range b.N {
				out := w.run([]string{connect.PathEnv + "=tailnet"}, "speedtest", "dev", "-t", "2s")
				up += mbits(b, out, "Upload")
				down += mbits(b, out, "Download")
			}
			b.ReportMetric(up/float64(b.N), "up-Mbit/s")
			b.ReportMetric(down/float64(b.N), "down-Mbit/s")
		})
	}
	out := w.run(nil, "ping", "dev", "-n", "10", "--interval", "200ms")
	require.Contains(b, out, "via direct", out)
	measure("direct")
	w.devRouter.Firewall("-p", "udp", "-j", "DROP")
	measure("derp")
}

// mbits reads a rate (Mbit/s) from hearth speedtest's output.
func mbits(t testing.TB, out, what string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + what + `: +([0-9.]+) Mbit/s`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}
