package tailnet_test

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"tailscale.com/derp/derpserver"
	"tailscale.com/net/stunserver"
	"tailscale.com/types/key"

	"github.com/hearthdev/hearth/internal/tailnet"
)

func TestMain(m *testing.M) {
	// Paths stay on loopback: the STUN server below tells each node its loopback endpoint.
	_ = os.Setenv(tailnet.EndpointsEnv, "127.0.0.0/8,::1/128")
	os.Exit(m.Run())
}

// derpServer serves DERP and STUN on loopback, as a server replica does.
func derpServer(t testing.TB) tailnet.DERPMap {
	t.Helper()
	s := derpserver.New(key.NewNode(), t.Logf)
	srv := httptest.NewServer(derpserver.Handler(s))
	stun := stunserver.New(t.Context())
	require.NoError(t, stun.Listen("127.0.0.1:0"))
	go func() { _ = stun.Serve() }()
	t.Cleanup(func() { srv.Close(); _ = s.Close() })
	return tailnet.DERPMap{Regions: []tailnet.Region{{ID: 900, Code: "test", Name: "Test", URL: srv.URL,
		STUNPort: stun.LocalAddr().(*net.UDPAddr).Port}}}
}

// pair starts two nodes that know each other, as the coordinator would have them.
func pair(t testing.TB, m tailnet.DERPMap) (a, b *tailnet.Conn) {
	t.Helper()
	dm, err := m.Tailscale()
	require.NoError(t, err)
	a, err = tailnet.New(tailnet.Options{ID: uuid.New(), DERPMap: dm})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	b, err = tailnet.New(tailnet.Options{ID: uuid.New(), DERPMap: dm})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	a.OnNode(b.UpdatePeer)
	b.OnNode(a.UpdatePeer)
	return a, b
}

func TestTwoNodesTalkTCPOverWireGuard(t *testing.T) {
	t.Parallel()
	a, b := pair(t, derpServer(t))
	ln, err := b.Listen(22)
	require.NoError(t, err)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(conn, conn)
		_ = conn.Close()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := a.DialTCP(ctx, b.Node().ID, 22)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	_, err = conn.Write([]byte("hi"))
	require.NoError(t, err)
	got := make([]byte, 2)
	_, err = io.ReadFull(conn, got)
	require.NoError(t, err)
	require.Equal(t, "hi", string(got))

	var pong tailnet.Pong
	require.Eventually(t, func() bool {
		pong, err = a.Ping(ctx, b.Node().ID)
		return err == nil && pong.Path == tailnet.PathDirect
	}, 10*time.Second, 50*time.Millisecond, "last: %+v %v", pong, err)
	require.NotEmpty(t, pong.Endpoint)
}

func TestAPortNobodyListensOnIsRefused(t *testing.T) {
	t.Parallel()
	a, b := pair(t, derpServer(t))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := a.DialTCP(ctx, b.Node().ID, 23)
	require.Error(t, err)
}

// A client whose first WireGuard handshakes reach an agent that has not heard of it yet (the
// coordinator is slow to tell it) still connects well before WireGuard's own retry, 5 s later:
// the dial starts the handshake again, and sends its SYN again once the session is up.
func TestADialWhoseFirstHandshakeIsLostConnectsBeforeWireGuardRetries(t *testing.T) {
	t.Parallel()
	dm, err := derpServer(t).Tailscale()
	require.NoError(t, err)
	client, err := tailnet.New(tailnet.Options{ID: uuid.New(), DERPMap: dm})
	require.NoError(t, err)
	t.Cleanup(client.Close)
	agent, err := tailnet.New(tailnet.Options{ID: uuid.New(), DERPMap: dm, AwaitHandshakes: true})
	require.NoError(t, err)
	t.Cleanup(agent.Close)
	agent.OnNode(client.UpdatePeer)
	heard := time.Now().Add(400 * time.Millisecond)
	client.OnNode(func(tailnet.Node) {
		go func() {
			time.Sleep(time.Until(heard))
			agent.UpdatePeer(client.Node())
		}()
	})
	ln, err := agent.Listen(22)
	require.NoError(t, err)
	go func() {
		if conn, err := ln.Accept(); err == nil {
			_ = conn.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	conn, err := client.DialTCP(ctx, agent.Node().ID, 22)
	require.NoError(t, err, "connected before WireGuard's retry")
	_ = conn.Close()
}
