package client

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// transport is what every client of this package sends its requests through. It retries what is
// safe to retry, with backoff, for up to retryFor: an idempotent request (GET, HEAD, OPTIONS, PUT,
// DELETE) that met a 502, 503 or 504 or a broken connection, and any request whose connection could
// not be made at all (it never reached a server). A 503's Retry-After is honoured. With several base
// URLs (replicas of one deployment) it moves to the next one whenever one cannot be reached or
// answers 502-504, and stays with the one that answered.
type transport struct {
	base     http.RoundTripper
	urls     []*url.URL
	current  atomic.Int64
	retryFor time.Duration
}

// retryFor bounds how long a request is retried; maxBackoff a single wait.
const (
	retryFor   = 20 * time.Second
	maxBackoff = 4 * time.Second
)

func newTransport(base http.RoundTripper, urls []*url.URL) *transport {
	return &transport{base: base, urls: urls, retryFor: retryFor}
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	idempotent := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions ||
		r.Method == http.MethodPut || r.Method == http.MethodDelete
	deadline := time.Now().Add(t.retryFor)
	backoff := 250 * time.Millisecond
	for try := 0; ; try++ {
		i := t.current.Load()
		u := t.urls[int(i)%len(t.urls)]
		req := r.Clone(r.Context())
		req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, ""
		if try > 0 && r.Body != nil && r.Body != http.NoBody {
			if r.GetBody == nil {
				return nil, errors.New("client: cannot resend a request whose body cannot be read again")
			}
			body, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
		res, err := t.base.RoundTrip(req)
		unavailable := err == nil && (res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusServiceUnavailable ||
			res.StatusCode == http.StatusGatewayTimeout)
		if err == nil && !unavailable {
			return res, nil
		}
		neverSent := err != nil && isDialError(err)
		if r.Context().Err() != nil || time.Now().After(deadline) || (!neverSent && !idempotent) {
			return res, err
		}
		wait := backoff
		if unavailable {
			if s, perr := strconv.Atoi(res.Header.Get("Retry-After")); perr == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, maxBackoff)
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			_ = res.Body.Close()
		}
		if len(t.urls) > 1 {
			t.current.CompareAndSwap(i, i+1) // another replica may answer
			if neverSent || unavailable {
				wait = min(wait, 100*time.Millisecond)
			}
		}
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// isDialError reports whether err happened before the request could be sent: the connection was
// refused, or its address did not resolve.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
