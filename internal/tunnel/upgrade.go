package tunnel

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Protocol is the HTTP Upgrade token of a raw stream: after "101 Switching Protocols" the connection
// carries the stream's bytes with no framing. Clients that are not browsers (the CLI, another
// replica) connect this way rather than with a websocket, so a relaying replica copies TCP to TCP
// (spliced by the kernel) instead of unmasking and re-framing every message.
const Protocol = "hearth-stream"

// Conn is a connection taken over from HTTP, with whatever bytes HTTP had already read past the
// headers.
type Conn struct {
	net.Conn
	r *bufio.Reader // nil or drained: read from Conn
}

func newConn(c net.Conn, r *bufio.Reader) *Conn {
	if r != nil && r.Buffered() == 0 {
		r = nil
	}
	return &Conn{Conn: c, r: r}
}

func (c *Conn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the connection when it can (TCP, TLS).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// Accept answers an HTTP request asking to upgrade to Protocol and takes over its connection.
func Accept(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", Protocol) {
		http.Error(w, "this endpoint needs Connection: Upgrade and Upgrade: "+Protocol, http.StatusUpgradeRequired)
		return nil, errors.New("tunnel: not an upgrade to " + Protocol)
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("tunnel: hijack: %w", err)
	}
	_ = c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+Protocol+"\r\n\r\n"); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("tunnel: %w", err)
	}
	return newConn(c, brw.Reader), nil
}

// Dial asks the server at rawURL (http or https) to upgrade a GET to Protocol. When the server
// answers anything but 101, Dial returns its response, whose body the caller reads and closes, and
// an error.
func Dial(ctx context.Context, rawURL string, header http.Header) (*Conn, *http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("tunnel: %w", err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, fmt.Errorf("tunnel: %w", err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		// HTTP/2 has no Upgrade: ask for HTTP/1.1.
		tc := tls.Client(c, &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, nil, fmt.Errorf("tunnel: %w", err)
		}
		c = tc
	default:
		_ = c.Close()
		return nil, nil, fmt.Errorf("tunnel: unsupported scheme %q", u.Scheme)
	}
	// The handshake is bounded by ctx; the connection then lives on.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	res, br, err := handshake(c, u, header)
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		_ = c.Close()
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Time{})
	if res.StatusCode != http.StatusSwitchingProtocols {
		res.Body = closeBoth{res.Body, c}
		return nil, res, fmt.Errorf("tunnel: the server answered %s", res.Status)
	}
	return newConn(c, br), res, nil
}

func handshake(c net.Conn, u *url.URL, header http.Header) (*http.Response, *bufio.Reader, error) {
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: header.Clone(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", Protocol)
	if err := req.Write(c); err != nil {
		return nil, nil, fmt.Errorf("tunnel: %w", err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, fmt.Errorf("tunnel: %w", err)
	}
	return res, br, nil
}

type closeBoth struct {
	io.ReadCloser
	c net.Conn
}

func (b closeBoth) Close() error { return errors.Join(b.ReadCloser.Close(), b.c.Close()) }

// headerHas reports whether a comma-separated header lists token (case-insensitively).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
