// Package testport gives tests TCP ports to start servers on. A port found by listening on port 0
// is in the kernel's ephemeral range, where any process that binds port 0 or dials out (another
// test's server, a client) can take it between the test's check and its server's bind; the test
// then talks to the wrong server. These ports are below that range.
package testport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// Low and High bound the ports handed out: below Linux's default ephemeral range (32768–60999).
const (
	Low  = 20000
	High = 32000
)

// Free returns a port on 127.0.0.1 that nothing listens on now, below the ephemeral range.
func Free(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := Low + rand.IntN(High-Low)
		ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = ln.Close()
			return port
		}
	}
	t.Fatalf("testport: no free port on 127.0.0.1 between %d and %d", Low, High)
	return 0
}
