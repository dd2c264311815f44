package tailnet_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"tailscale.com/envknob"

	"github.com/hearthdev/hearth/internal/tailnet"
)

// BenchmarkPaths measures, between two nodes on loopback: how long after the first ping a direct
// path answers, and bulk throughput over the direct path and through DERP.
//
//	go test ./internal/tailnet -run '^$' -bench Paths -benchtime 5x
func BenchmarkPaths(b *testing.B) {
	b.Run("direct-path-after-first-ping", func(b *testing.B) {
		var total time.Duration
		for range b.N {
			a, peer := pair(b, derpServer(b))
			start := time.Now()
			for {
				ctx, cancel := context.WithTimeout(b.Context(), 100*time.Millisecond)
				p, err := a.Ping(ctx, peer.Node().ID)
				cancel()
				if err == nil && p.Path == tailnet.PathDirect {
					break
				}
				require.Less(b, time.Since(start), 30*time.Second, "no direct path")
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/direct")
	})
	b.Run("throughput-direct", func(b *testing.B) { throughput(b, false) })
	b.Run("throughput-derp", func(b *testing.B) { throughput(b, true) })
}

func throughput(b *testing.B, derpOnly bool) {
	if derpOnly {
		envknob.Setenv("TS_DEBUG_ALWAYS_USE_DERP", "true")
		defer envknob.Setenv("TS_DEBUG_ALWAYS_USE_DERP", "")
	}
	a, peer := pair(b, derpServer(b))
	ln, err := peer.Listen(9)
	require.NoError(b, err)
	got := make(chan int64, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, c)
			_ = c.Close()
			got <- n
		}
	}()
	const chunk = 64 << 20
	buf := make([]byte, 256<<10)
	b.SetBytes(chunk)
	b.ResetTimer()
	for range b.N {
		conn, err := a.DialTCP(b.Context(), peer.Node().ID, 9)
		require.NoError(b, err)
		for sent := 0; sent < chunk; sent += len(buf) {
			_, err := conn.Write(buf)
			require.NoError(b, err)
		}
		_ = conn.Close()
		require.Equal(b, int64(chunk), <-got)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Second)
	defer cancel()
	p, err := a.Ping(ctx, peer.Node().ID)
	require.NoError(b, err)
	if derpOnly {
		require.Equal(b, tailnet.PathDERP, p.Path)
	}
}
