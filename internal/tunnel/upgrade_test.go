package tunnel_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/tunnel"
)

// echo upgrades, greets at once (so the greeting can arrive with the 101) and echoes until the
// client half-closes.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := tunnel.Accept(w, r)
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = io.WriteString(c, "hello\n")
	_, _ = io.Copy(c, c)
}

func TestUpgradeCarriesBytesBothWays(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()

	c, res, err := tunnel.Dial(context.Background(), srv.URL, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	greeting := make([]byte, 6)
	_, err = io.ReadFull(c, greeting)
	require.NoError(t, err)
	require.Equal(t, "hello\n", string(greeting))

	_, err = io.WriteString(c, "ping")
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	rest, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "ping", string(rest), "the server saw the half-close and ended its side")
}

func TestUpgradeRefusals(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/gone", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such agent", http.StatusNotFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Anything but 101 comes back as a response with its body, and an error.
	c, res, err := tunnel.Dial(context.Background(), srv.URL+"/gone", nil)
	require.Error(t, err)
	require.Nil(t, c)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	body, _ := io.ReadAll(res.Body)
	require.NoError(t, res.Body.Close())
	require.Equal(t, "no such agent\n", string(body))

	// A plain request to an upgrading endpoint is told what it lacks.
	plain, err := http.Get(srv.URL + "/echo")
	require.NoError(t, err)
	body, _ = io.ReadAll(plain.Body)
	_ = plain.Body.Close()
	require.Equal(t, http.StatusUpgradeRequired, plain.StatusCode)
	require.Contains(t, string(body), "Upgrade: "+tunnel.Protocol)

	// A dial bounded by a canceled context fails instead of hanging.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = tunnel.Dial(ctx, srv.URL+"/echo", nil)
	require.Error(t, err)
}

// A relay joins two upgraded connections (the kernel splices them); what the backend sent with its
// 101 must come first.
func TestPipeRelaysUpgradedConnections(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(echo))
	defer backend.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up, _, err := tunnel.Dial(r.Context(), backend.URL, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c, err := tunnel.Accept(w, r)
		if err != nil {
			_ = up.Close()
			return
		}
		tunnel.Pipe(c, up)
	}))
	defer front.Close()

	c, _, err := tunnel.Dial(context.Background(), front.URL, nil)
	require.NoError(t, err)
	defer c.Close()
	payload := make([]byte, 8<<20)
	_, _ = rand.Read(payload)
	go func() {
		_, _ = c.Write(payload)
		_ = c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "hello\n", string(got[:6]))
	require.True(t, bytes.Equal(payload, got[6:]), "the payload came back whole and in order")
}
