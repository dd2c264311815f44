package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/metadata"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/seal"
	"github.com/hearthdev/hearth/internal/tickets"
	"github.com/hearthdev/hearth/jobs"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type bundle struct {
	srv     *httptest.Server
	db      *db.DB
	auth    *authn.Authenticator
	tickets *tickets.Signer
}

func setup(t testing.TB) bundle { return setupWith(t, nil) }

// testPSK is the pre-shared key the test server accepts from provisioner workers.
const testPSK = "test-provisioner-key-0123456789"

// setupWith is setup with a chance to change the API's dependencies, which know the server's URL.
func setupWith(t testing.TB, change func(*Deps)) bundle {
	t.Helper()
	return setupOn(t, dbtest.New(t), change)
}

// setupOn is setupWith on the database d.
func setupOn(t testing.TB, d *db.DB, change func(*Deps)) bundle {
	t.Helper()
	q, err := jobs.New(jobs.Config{DB: d, Logger: dbtest.Logger()})
	require.NoError(t, err)
	require.NoError(t, q.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, q.Stop(context.Background())) })
	auth := authn.New(d)
	signer, err := tickets.NewSigner(context.Background(), d, make([]byte, 32), "http://test")
	require.NoError(t, err)
	listener, err := pgnotify.Listen(context.Background(), d.Pool, provisioner.NotifyChannel, dbtest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close() })
	logs, err := pgnotify.Listen(context.Background(), d.Pool, provisioning.LogsChannel, dbtest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = logs.Close() })
	boxes, err := seal.NewBoxes(make([]byte, 32))
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	relays := relay.New(relay.Config{DB: d, Tickets: signer, Address: "http://" + srv.Listener.Addr().String(), Hostname: "test", Logger: dbtest.Logger()})
	require.NoError(t, relays.Start(context.Background()))
	t.Cleanup(func() { _ = relays.Stop(context.Background()) })
	values := metadata.New(d, 100*time.Millisecond, dbtest.Logger())
	values.Start(context.Background())
	t.Cleanup(func() { values.Stop(context.Background()) })
	deps := Deps{Relay: relays, Metadata: values, Boxes: boxes, Logs: logs, DB: d, Logger: dbtest.Logger(), Registry: prometheus.NewRegistry(), Queue: q, Auth: auth, Tickets: signer,
		AccessURL: "http://" + srv.Listener.Addr().String(), River: q.Client, Listener: listener,
		ProvisionerKeys: provisioning.NewKeys(testPSK), LeaseTime: 2 * time.Second}
	if change != nil {
		change(&deps)
	}
	srv.Config.Handler = New(deps)
	srv.Start()
	t.Cleanup(srv.Close)
	return bundle{srv: srv, db: d, auth: auth, tickets: signer}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, b
}

func TestHealthReportsEveryComponent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The queue is healthy once the heartbeat job has run; poll rather than sleep.
	var body map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, raw := get(t, b.srv.URL+"/api/v2/health")
		require.NoError(t, json.Unmarshal(raw, &body))
		if res.StatusCode == http.StatusOK || time.Now().After(deadline) {
			require.Equal(t, http.StatusOK, res.StatusCode, string(raw))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, "healthy", body["status"])
	require.Equal(t, true, body["database"].(map[string]any)["healthy"])
	require.Equal(t, true, body["queue"].(map[string]any)["healthy"])
	schema := body["schema"].(map[string]any)
	ms, _ := db.Migrations()
	require.EqualValues(t, len(ms), schema["hearth"])
	require.Positive(t, schema["river"])
	require.Len(t, body["deployment_id"], 36)
}

func TestOpenAPIDocumentIs31(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, raw := get(t, b.srv.URL+"/api/v2/openapi.json")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Contains(t, doc.Paths, "/api/v2/health")

	res, raw = get(t, b.srv.URL+"/api/v2/openapi.yaml")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(raw), "openapi: 3.1.0")
}

func TestDocsWorkOffline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, raw := get(t, b.srv.URL+"/api/v2/docs")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(raw), "/api/v2/docs/assets/swagger-ui-bundle.js")
	require.NotContains(t, string(raw), "https://", "the docs page loads nothing from the internet")
	res, raw = get(t, b.srv.URL+"/api/v2/docs/assets/swagger-ui-bundle.js")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Greater(t, len(raw), 100_000)
}

func TestUnknownAPIPathIsAProblem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, raw := get(t, b.srv.URL+"/api/v2/no-such-thing")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.Contains(t, string(raw), "/api/v2/no-such-thing")
}

func TestLivenessAndMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, raw := get(t, b.srv.URL+"/healthz")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "ok\n", string(raw))
	require.NotEmpty(t, res.Header.Get("X-Request-Id"))
	get(t, b.srv.URL+"/api/v2/health")
	_, raw = get(t, b.srv.URL+"/metrics")
	require.Contains(t, string(raw), `hearth_http_request_duration_seconds_count{code="200",method="GET",operation="healthz"}`)
	require.Regexp(t, `hearth_http_request_duration_seconds_count\{code="(200|503)",method="GET",operation="get-health"\}`, string(raw))
	require.Contains(t, string(raw), "hearth_http_requests_in_flight")
	require.Contains(t, string(raw), "hearth_db_pool_connections")
	require.Regexp(t, `hearth_postgres_transactions_total [1-9]`, string(raw))
	owner(t, b)
	// PostgreSQL publishes a backend's counts within a second or so of its transaction.
	written := regexp.MustCompile(`hearth_postgres_rows_written_total\{table="users"\} [1-9]`)
	for deadline := time.Now().Add(20 * time.Second); !written.Match(raw); time.Sleep(200 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the owner's row is not counted: %s", raw)
		_, raw = get(t, b.srv.URL+"/metrics")
	}
}

// testAPI serves operations registered only for these tests, with the production configuration.
func testAPI(t *testing.T, register func(huma.API)) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	hapi := humago.New(mux, config())
	hapi.UseMiddleware(nameOperation)
	register(hapi)
	srv := httptest.NewServer(observe(mux, dbtest.Logger(), newHTTPMetrics(prometheus.NewRegistry())))
	t.Cleanup(srv.Close)
	return srv
}

type widgetInput struct {
	Body struct {
		Name  string `json:"name" maxLength:"8"`
		Count int    `json:"count" minimum:"1"`
	}
}

type listOutput struct {
	Body struct {
		Items  []string               `json:"items"`
		Nested []struct{ Tags []int } `json:"nested"`
		ByKey  map[string][]string    `json:"by_key"`
	}
}

func TestErrorsAreProblemsAndHideInternals(t *testing.T) {
	t.Parallel()
	srv := testAPI(t, func(hapi huma.API) {
		huma.Post(hapi, "/widgets", func(context.Context, *widgetInput) (*struct{}, error) { return nil, nil })
		huma.Get(hapi, "/boom", func(context.Context, *struct{}) (*struct{}, error) {
			return nil, errors.New("pq: password authentication failed for user secret-user at 10.1.2.3")
		})
		huma.Get(hapi, "/missing", func(context.Context, *struct{}) (*struct{}, error) {
			return nil, fmt.Errorf("load widget: %w", db.ErrNotFound)
		})
		huma.Get(hapi, "/panic", func(context.Context, *struct{}) (*struct{}, error) { panic("oh no") })
	})
	post := func(body string) (*http.Response, map[string]any) {
		res, err := http.Post(srv.URL+"/widgets", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer res.Body.Close()
		var p map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
		return res, p
	}

	for name, tc := range map[string]struct {
		body, location string
	}{
		"malformed JSON": {`{"name": `, "body"},
		"too long":       {`{"name": "much-too-long", "count": 1}`, "body.name"},
		"below minimum":  {`{"name": "ok", "count": 0}`, "body.count"},
		"unknown field":  {`{"name": "ok", "count": 1, "colour": "red"}`, "body.colour"},
	} {
		res, p := post(tc.body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), name)
		require.GreaterOrEqual(t, res.StatusCode, 400, name)
		require.Less(t, res.StatusCode, 500, name)
		require.Equal(t, res.Header.Get("X-Request-Id"), p["request_id"], name)
		errs, _ := p["errors"].([]any)
		require.NotEmpty(t, errs, name)
		require.Contains(t, errs[0].(map[string]any)["location"], tc.location, name)
	}

	res, raw := get(t, srv.URL+"/boom")
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.NotContains(t, string(raw), "secret-user")
	require.NotContains(t, string(raw), "10.1.2.3")
	require.Contains(t, string(raw), res.Header.Get("X-Request-Id"))

	res, _ = get(t, srv.URL+"/missing")
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	res, raw = get(t, srv.URL+"/panic")
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.NotContains(t, string(raw), "oh no")
}

func TestListsAreNeverNull(t *testing.T) {
	t.Parallel()
	srv := testAPI(t, func(hapi huma.API) {
		huma.Get(hapi, "/lists", func(context.Context, *struct{}) (*listOutput, error) {
			out := &listOutput{}
			out.Body.Nested = append(out.Body.Nested, struct{ Tags []int }{})
			out.Body.ByKey = map[string][]string{"a": nil}
			return out, nil
		})
	})
	_, raw := get(t, srv.URL+"/lists")
	require.JSONEq(t, `{"items": [], "nested": [{"Tags": []}], "by_key": {"a": []}}`, string(raw))
}

func TestRequestIDFromClientIsKeptWhenSane(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for id, keep := range map[string]bool{"abc-123": true, "bad id with spaces": false, strings.Repeat("x", 100): false} {
		req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/healthz", nil)
		req.Header.Set("X-Request-Id", id)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, keep, res.Header.Get("X-Request-Id") == id, id)
	}
}

func TestTicketKeysVerifyTheDeploymentsTickets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ticket, err := b.tickets.Sign(context.Background(), tickets.KindJob, "worker", "job-1", time.Minute)
	require.NoError(t, err)
	res, raw := get(t, b.srv.URL+"/api/v2/tickets/keys")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var body struct{ Keys []tickets.JWK }
	require.NoError(t, json.Unmarshal(raw, &body))
	set, err := tickets.ParseJWKs(body.Keys)
	require.NoError(t, err)
	c, err := set.Verify(ticket, tickets.KindJob)
	require.NoError(t, err)
	require.Equal(t, "job-1", c.Resource)
}
