package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearthdev/hearth/internal/logging"
)

// routeKey carries a *route through the request context, so the huma middleware can name the
// operation that the outer net/http middleware then records.
type routeKey struct{}

type route struct{ operation string }

// httpMetrics are the HTTP tier's Prometheus instruments.
type httpMetrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hearth_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by API operation ID (or route for non-API paths), method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hearth_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	reg.MustRegister(m.duration, m.inFlight)
	return m
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// observe wraps the whole HTTP tier: it assigns the request ID (keeping a sane one from the client or
// a proxy in front), recovers panics as problem+json 500s, records metrics and writes the access log.
func observe(next http.Handler, log *slog.Logger, m *httpMetrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		rt := &route{}
		ctx := logging.WithRequestID(context.WithValue(r.Context(), routeKey{}, rt), id)
		sw := &statusWriter{ResponseWriter: w}
		m.inFlight.Inc()
		defer func() {
			m.inFlight.Dec()
			if p := recover(); p != nil {
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				log.ErrorContext(ctx, "panic while serving request", "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeProblem(sw, &Problem{Status: http.StatusInternalServerError, Title: "Internal Server Error",
						Detail: "The server could not complete the request; the request ID finds the details in its logs.", RequestID: id})
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			op := rt.operation
			if op == "" {
				op = "other"
			}
			elapsed := time.Since(start)
			m.duration.WithLabelValues(op, r.Method, strconv.Itoa(sw.status)).Observe(elapsed.Seconds())
			level := slog.LevelDebug // routine: --log-level debug shows every request
			if sw.status >= 500 {
				level = slog.LevelError
			}
			log.Log(ctx, level, "http request", "method", r.Method, "path", r.URL.Path, "operation", op,
				"status", sw.status, "bytes", sw.bytes, "duration_ms", float64(elapsed.Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// named labels requests served outside huma (metrics, health checks, docs) for the metrics and log.
func named(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt, ok := r.Context().Value(routeKey{}).(*route); ok {
			rt.operation = name
		}
		h.ServeHTTP(w, r)
	})
}

// nameOperation is huma middleware that records the operation ID for observe.
func nameOperation(hctx huma.Context, next func(huma.Context)) {
	if rt, ok := hctx.Context().Value(routeKey{}).(*route); ok {
		rt.operation = hctx.Operation().OperationID
	}
	next(hctx)
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flushing, hijacking for websockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hijackable lets h (the DERP server, which asserts http.Hijacker) take over connections that
// reach it through the middleware's wrapped writers.
func hijackable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(hijacker{w}, r) })
}

type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}
