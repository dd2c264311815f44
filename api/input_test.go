package api

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"
)

// Text that cannot be stored, and names that would mislead a reader, are refused at the edge with
// the place at fault, before any query runs.
func TestHostileTextIsRefusedWithWhereItIs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	token := owner(t, b)
	auth := []string{"Authorization", "Bearer " + token}
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
		location           string
	}{
		"NUL in a path segment":        {"GET", "/api/v2/users/%00", "", 400, "path"},
		"invalid UTF-8 in a path":      {"GET", "/api/v2/templates/%ff", "", 400, "path"},
		"invalid percent-encoding":     {"GET", "/api/v2/users?search=%zz", "", 400, "query"},
		"NUL in a query filter":        {"GET", "/api/v2/audit?username=a%00b", "", 400, "query.username"},
		"NUL in a body field":          {"PATCH", "/api/v2/users/me", `{"name":"a\u0000b"}`, 422, "body.name"},
		"NUL in a sign-in":             {"POST", "/api/v2/users/login", `{"login":"ada\u0000","password":"x"}`, 422, "body.login"},
		"a terminal escape in a name":  {"PATCH", "/api/v2/users/me", `{"name":"\u001b[31mAda"}`, 422, "body.name"},
		"a newline in a name":          {"PATCH", "/api/v2/users/me", `{"name":"Ada\nLovelace"}`, 422, "body.name"},
		"a bidi override in a name":    {"PATCH", "/api/v2/users/me", `{"name":"Ada \u202egpj.exe"}`, 422, "body.name"},
		"NUL deep in a list":           {"POST", "/api/v2/workspaces", `{"name":"w","template":"t","parameters":[{"name":"a","value":"\u0000"}]}`, 422, "body.parameters[0].value"},
		"raw invalid UTF-8 in a body":  {"PATCH", "/api/v2/users/me", "{\"name\":\"\xff\"}", 400, "body"},
		"NUL in the Authorization too": {"GET", "/api/v2/users/me", "", 400, "header.Authorization"},
	} {
		headers := auth
		if strings.Contains(name, "Authorization") {
			headers = []string{"Authorization", "Bearer a\x00b"}
		}
		req, err := http.NewRequestWithContext(context.Background(), tc.method, b.srv.URL+tc.path, strings.NewReader(tc.body))
		require.NoError(t, err)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header[headers[0]] = []string{headers[1]} // set as is: the client would refuse a NUL through Set's checks later
		res, err := http.DefaultClient.Do(req)
		if err != nil && strings.Contains(name, "Authorization") {
			continue // the Go client refuses to send such a header at all; other clients do not
		}
		require.NoError(t, err, name)
		var p Problem
		require.NoError(t, json.NewDecoder(res.Body).Decode(&p), name)
		res.Body.Close()
		require.Equal(t, tc.status, res.StatusCode, "%s: %+v", name, p)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), name)
		require.NotEmpty(t, p.Errors, name)
		require.Equal(t, tc.location, p.Errors[0].Location, name)
		require.NotEmpty(t, p.RequestID, name)
	}

	// Nothing stored changed, and ordinary text still passes.
	_, me := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", auth...)
	require.Equal(t, "", me["name"])
	res, me := call(t, "PATCH", b.srv.URL+"/api/v2/users/me", `{"name":"Ada Lovelace \u00e9\u4e2d 🙂"}`, auth...)
	require.Equal(t, http.StatusOK, res.StatusCode, me)
	require.Equal(t, "Ada Lovelace é中 🙂", me["name"])
}

// hostile are strings that have broken services before: NULs, invalid UTF-8, escapes, overrides,
// encodings, injections, the empty and the huge.
var hostile = []string{
	"\x00", "a\x00b", "\xff", "\xc3\x28", "\xed\xa0\x80", "%00", "%ff", "%zz", "\u202egpj.exe", "\x1b[31mred",
	"a\nb", "a\r\nb", "../../etc/passwd", "' OR 1=1 --", "", " ", "-1", "99999999999999999999999", "null", "{}",
	"🙂", `\u0000`, strings.Repeat("a", 5000), "me", "00000000-0000-0000-0000-000000000000",
}

// operation is one operation of the OpenAPI document, as the fuzzer calls it.
type operation struct {
	id, method, path string
	query            []string
	body             *huma.Schema
	contentType      string
}

// operations lists every operation of the document, in a fixed order.
func operations(t testing.TB) []operation {
	t.Helper()
	doc := Spec()
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var ops []operation
	for _, p := range paths {
		item := doc.Paths[p]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil {
				continue
			}
			o := operation{id: m.op.OperationID, method: m.method, path: p}
			for _, prm := range m.op.Parameters {
				if prm.In == "query" {
					o.query = append(o.query, prm.Name)
				}
			}
			if rb := m.op.RequestBody; rb != nil {
				for ct, mt := range rb.Content {
					o.contentType = ct
					if mt.Schema != nil {
						o.body = doc.Components.Schemas.SchemaFromRef(mt.Schema.Ref)
						if o.body == nil {
							o.body = mt.Schema
						}
					}
				}
			}
			ops = append(ops, o)
		}
	}
	require.Len(t, ops, 115, "every operation of the document (update this count with the document)")
	return ops
}

// request builds op's request with s in every path parameter, query parameter and string field of
// its body (written raw, so invalid UTF-8 and control characters reach the server as they are).
func (op operation) request(base, s string) (*http.Request, error) {
	path := op.path
	for {
		i := strings.IndexByte(path, '{')
		j := strings.IndexByte(path, '}')
		if i < 0 || j < i {
			break
		}
		path = path[:i] + url.PathEscape(s) + path[j+1:]
	}
	q := url.Values{}
	for _, name := range op.query {
		q.Set(name, s)
	}
	var body []byte
	switch {
	case op.contentType == "application/json" && op.body != nil:
		fields := map[string]any{}
		for name, prop := range op.body.Properties {
			switch prop.Type {
			case "string":
				fields[name] = "FUZZ-VALUE"
			case "integer", "number":
				fields[name] = 1
			case "boolean":
				fields[name] = false
			case "array":
				fields[name] = []any{}
			case "object":
				fields[name] = map[string]any{"k": "FUZZ-VALUE"}
			}
		}
		raw, _ := json.Marshal(fields)
		body = bytes.ReplaceAll(raw, []byte(`"FUZZ-VALUE"`), rawJSONString(s))
	case op.contentType != "":
		body = []byte(s)
	}
	req, err := http.NewRequestWithContext(context.Background(), op.method, base+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if op.contentType != "" {
		req.Header.Set("Content-Type", op.contentType)
	}
	return req, nil
}

// rawJSONString quotes s as a JSON string, escaping only what JSON requires and keeping every other
// byte (invalid UTF-8 included) as it is.
func rawJSONString(s string) []byte {
	var b bytes.Buffer
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.Bytes()
}

// FuzzOperations drives every operation of the OpenAPI document with hostile strings in its path,
// query and body, as the deployment's owner, and fails on any answer of 500 or more. A plain go test
// runs the seeds (every operation with every string of hostile); go tool task fuzz runs the fuzzer.
func FuzzOperations(f *testing.F) {
	ops := operations(f)
	for i := range ops {
		for _, s := range hostile {
			f.Add(uint16(i), s) //nolint:gosec // fewer than 65,536 operations
		}
	}
	b := setup(f)
	token := owner(f, b)
	hc := &http.Client{Timeout: 2 * time.Second} // streams and long polls answer (headers) at once or not at all
	f.Fuzz(func(t *testing.T, i uint16, s string) {
		op := ops[int(i)%len(ops)]
		req, err := op.request(b.srv.URL, s)
		if err != nil {
			t.Skip("not a request Go can make")
		}
		if op.id != "logout" { // which would end the session every later call uses
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Skip("not a request Go can send: " + err.Error())
		}
		_ = res.Body.Close()
		require.Less(t, res.StatusCode, 500, "%s %s with %q", op.method, op.path, s)
	})
}

// A dangerous archive is refused when it is uploaded, under the rules its extraction applies, and
// never stored.
func TestADangerousArchiveIsRefusedAtUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	token := owner(t, b)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "../outside.tf", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}))
	_, _ = tw.Write([]byte("#\n"))
	require.NoError(t, tw.Close())
	req, err := http.NewRequestWithContext(context.Background(), "POST", b.srv.URL+"/api/v2/files", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var p Problem
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Contains(t, p.Detail, `"../outside.tf" points outside the template`)
	var files int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM files`).Scan(&files))
	require.Zero(t, files)
}

// checkInput reads JSON bodies before the operation does; a long poll must still wait its whole time
// (once the read deadline huma sets for the body ended it at five seconds), and the next request on
// the same connection must not inherit a canceled watch.
func TestALongPollOutlivesTheBodyCheck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now()
	res, body := call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", `{"name":"w","wait_seconds":6}`, "Hearth-Provisioner-Key", testPSK)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%v", body)
	require.GreaterOrEqual(t, time.Since(start), 6*time.Second, "the poll waited its time")
	res, body = call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", `{"name":"w","wait_seconds":0}`, "Hearth-Provisioner-Key", testPSK)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "the next request on the connection: %v", body)
}
