package tailnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The speed test: on tailnet.PortSpeedtest the agent takes a one-byte direction and a duration in
// milliseconds (uint32, big endian). 'u': the client sends for the duration and half-closes; the
// agent answers with the bytes it got (uint64). 'd': the agent sends for the duration and closes.

// MaxSpeedtest bounds one direction of a speed test.
const MaxSpeedtest = 30 * time.Second

// ServeSpeedtest answers speed tests on ln until it closes.
func ServeSpeedtest(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = c.Close() }()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var hdr [5]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Time{})
			d := min(time.Duration(binary.BigEndian.Uint32(hdr[1:]))*time.Millisecond, MaxSpeedtest)
			switch hdr[0] {
			case 'u':
				_ = c.SetReadDeadline(time.Now().Add(d + 10*time.Second))
				n, _ := io.Copy(io.Discard, c)
				_ = binary.Write(c, binary.BigEndian, uint64(n)) //nolint:gosec // a count
			case 'd':
				buf := make([]byte, 128<<10)
				end := time.Now().Add(d)
				for time.Now().Before(end) {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}
		}()
	}
}

// Speed is one direction's result.
type Speed struct {
	Bytes   int64
	Elapsed time.Duration
}

// Mbps is the rate in megabits a second.
func (s Speed) Mbps() float64 { return float64(s.Bytes) * 8 / s.Elapsed.Seconds() / 1e6 }

// Speedtest runs one direction ('u' upload, 'd' download) over conn for d, and closes conn.
func Speedtest(conn net.Conn, dir byte, d time.Duration) (Speed, error) {
	defer func() { _ = conn.Close() }()
	if dir != 'u' && dir != 'd' {
		return Speed{}, fmt.Errorf("tailnet: speed test direction %q", dir)
	}
	var hdr [5]byte
	hdr[0] = dir
	binary.BigEndian.PutUint32(hdr[1:], uint32(min(d, MaxSpeedtest).Milliseconds())) //nolint:gosec // bounded
	if _, err := conn.Write(hdr[:]); err != nil {
		return Speed{}, err
	}
	start := time.Now()
	if dir == 'd' {
		n, err := io.Copy(io.Discard, conn)
		return Speed{Bytes: n, Elapsed: time.Since(start)}, err
	}
	buf := make([]byte, 128<<10)
	var sent int64
	for end := start.Add(d); time.Now().Before(end); {
		n, err := conn.Write(buf)
		sent += int64(n)
		if err != nil {
			return Speed{}, err
		}
	}
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok {
		return Speed{}, errors.New("tailnet: the connection cannot half-close")
	}
	_ = cw.CloseWrite()
	var got uint64
	if err := binary.Read(conn, binary.BigEndian, &got); err != nil {
		return Speed{}, fmt.Errorf("tailnet: the agent did not say what it got: %w", err)
	}
	return Speed{Bytes: int64(got), Elapsed: time.Since(start)}, nil //nolint:gosec // a count
}
