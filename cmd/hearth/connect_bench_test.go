package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// BenchmarkConnections measures connecting to a local-template workspace through replica B, which
// relays to replica A holding the agent's tunnel (and through A directly, for comparison):
//
//	go test ./cmd/hearth -run '^$' -bench Connections -benchtime 20x
func BenchmarkConnections(b *testing.B) {
	w := connectedWorkspace(b, "--derp=true")
	pid, ok := alive(b, filepath.Join(w.home, ".hearth", "agent.pid"))
	require.True(b, ok)

	b.Run("agent-idle-rss", func(b *testing.B) {
		for range b.N {
			time.Sleep(10 * time.Millisecond)
		}
		b.ReportMetric(rssMiB(b, pid), "MiB")
	})

	// hearth ssh as people run it (WireGuard, direct once found, through the keeper after the
	// first command), and on each path alone: tailnet through the keeper, tailnet-fresh with a node
	// of each command's own (the keeper off), relay.
	for _, v := range []struct{ name, path, keep string }{{"ssh-echo", "", ""}, {"ssh-echo-tailnet", "tailnet", ""},
		{"ssh-echo-tailnet-fresh", "tailnet", "0"}, {"ssh-echo-relay", "relay", ""}} {
		b.Run(v.name, func(b *testing.B) {
			c := w.c
			c.env = slices.Clone(c.env)
			if v.path != "" {
				c.env = append(c.env, connect.PathEnv+"="+v.path)
			}
			if v.keep != "" {
				c.env = append(c.env, connect.KeepEnv+"="+v.keep)
			}
			// The first command starts the keeper; the ones measured find it.
			_, errOut, code := c.run("", "ssh", "dev", "--", "true")
			require.Equal(b, 0, code, errOut)
			var times []time.Duration
			for range b.N {
				start := time.Now()
				out, errOut, code := c.run("", "ssh", "dev", "--", "echo", "hi")
				times = append(times, time.Since(start))
				require.Equal(b, 0, code, errOut)
				require.Equal(b, "hi\n", out)
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
		})
	}

	// The SSH session hearth ssh runs (connect.SSH), over a node that stays up between commands:
	// what a fresh CLI process would take if its node outlived it.
	b.Run("ssh-echo-warm-tailnet", func(b *testing.B) {
		b.Setenv(connect.PathEnv, "tailnet")
		d := &connect.Dialer{Session: cliconfig.Session{URL: w.b.url, Token: w.token}, AgentID: w.agentID}
		defer d.Close()
		var times []time.Duration
		for i := range b.N + 1 {
			start := time.Now()
			conn, err := d.Dial(context.Background(), tunnel.KindSSH, 0)
			require.NoError(b, err)
			var out bytes.Buffer
			require.NoError(b, connect.SSH(context.Background(), conn, connect.SSHOptions{Command: "echo hi", Stdin: strings.NewReader(""),
				Stdout: &out, Stderr: io.Discard, StdinFd: -1}))
			if i > 0 { // the first brings the node up
				times = append(times, time.Since(start))
			}
			require.Equal(b, "hi\n", out.String())
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
		b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
	})

	// A bulk copy to a sink in the workspace (this process: the local template shares its network).
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer sink.Close()
	received := make(chan int64, 1)
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			go func() {
				n, _ := io.Copy(io.Discard, c)
				_ = c.Close()
				received <- n
			}()
		}
	}()
	port := sink.Addr().(*net.TCPAddr).Port
	const chunk = 64 << 20
	buf := make([]byte, 1<<20)
	for _, via := range []*running{w.b, w.a} {
		name := "relay-throughput-via-B"
		if via == w.a {
			name = "relay-throughput-via-A"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(chunk)
			for range b.N {
				conn, err := connect.Dial(context.Background(), cliconfig.Session{URL: via.url, Token: w.token}, w.agentID, tunnel.KindTCP, port)
				require.NoError(b, err)
				for sent := 0; sent < chunk; sent += len(buf) {
					_, err := conn.Write(buf)
					require.NoError(b, err)
				}
				_ = conn.Close()
				for n := <-received; n != chunk; n = <-received {
					require.Equal(b, int64(chunk), n, "the sink got everything")
				}
			}
		})
	}

	// The same copy over WireGuard, coordinated through B with the agent whose node A holds.
	b.Run("tailnet-throughput", func(b *testing.B) {
		b.Setenv(connect.PathEnv, "tailnet")
		d := &connect.Dialer{Session: cliconfig.Session{URL: w.b.url, Token: w.token}, AgentID: w.agentID}
		defer d.Close()
		b.SetBytes(chunk)
		for range b.N {
			conn, err := d.Dial(context.Background(), tunnel.KindTCP, port)
			require.NoError(b, err)
			for sent := 0; sent < chunk; sent += len(buf) {
				_, err := conn.Write(buf)
				require.NoError(b, err)
			}
			_ = conn.Close()
			for n := <-received; n != chunk; n = <-received {
				require.Equal(b, int64(chunk), n, "the sink got everything")
			}
		}
	})

	// The web terminal through replica B, which does not hold the agent's tunnel (its own node
	// reaches the agent over WireGuard): a new terminal running cat and its first echo each time,
	// then the echo of a terminal that stays open; and cat on a local terminal, for comparison.
	b.Run("terminal-open-web", func(b *testing.B) {
		for range b.N {
			term := dialWS(b, w.b.url+"/api/v2/workspaceagents/"+w.agentID+"/pty?reconnect="+uuid.NewString()+"&command=cat", w.token)
			writePTY(b, term, "x")
			_, data, err := term.Read(context.Background())
			require.NoError(b, err)
			require.Contains(b, string(data), "x")
			_ = term.CloseNow()
		}
	})
	b.Run("terminal-echo-web", func(b *testing.B) {
		term := dialWS(b, w.b.url+"/api/v2/workspaceagents/"+w.agentID+"/pty?reconnect=3d5b1a2c-9e8f-4d7c-8b6a-5f4e3d2c1b0a&command=cat", w.token)
		defer term.CloseNow() //nolint:errcheck // benchmark cleanup
		ctx := context.Background()
		for range b.N {
			writePTY(b, term, "x")
			_, data, err := term.Read(ctx)
			require.NoError(b, err)
			require.Contains(b, string(data), "x")
		}
	})
	b.Run("terminal-echo-direct", func(b *testing.B) {
		f, err := pty.Start(exec.Command("cat"))
		require.NoError(b, err)
		defer f.Close()
		one := make([]byte, 64)
		for range b.N {
			_, err := f.WriteString("x")
			require.NoError(b, err)
			_, err = f.Read(one)
			require.NoError(b, err)
		}
	})
}

// rssMiB is a process's resident set size.
func rssMiB(t testing.TB, pid int) float64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			require.NoError(t, err)
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
