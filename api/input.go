package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/logging"
)

// checkInput is the one place where text that no operation can store is refused, before any
// handler or query sees it: PostgreSQL rejects NUL bytes and invalid UTF-8 in text (SQLSTATE 22021),
// and a name that holds control or bidirectional-override characters would mislead whoever reads it
// in a terminal or a page. It checks the path, the query (whose percent-encoding must be valid), the
// credential headers and JSON bodies of every API request, and answers 400 (or 422 for a body's
// field) naming the place at fault. Workspace apps and the dashboard are not the API's and pass.
func checkInput(next http.Handler, skip func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, Prefix+"/") || (skip != nil && skip(r)) {
			next.ServeHTTP(w, r)
			return
		}
		read, p := checkRequest(w, r)
		if p != nil {
			p.RequestID = logging.RequestID(r.Context())
			writeProblem(w, p)
			return
		}
		if read {
			w = bodyRead{w}
		}
		next.ServeHTTP(w, r)
	})
}

// maxCheckedBody is the largest JSON body checked whole; a larger one is passed on for the
// operation's own size limit to refuse.
const maxCheckedBody = 8 << 20

// bodyRead is the response writer of a request whose body checkInput has read. Reading it to the end
// made net/http watch the connection for the client going away, and clear the read deadline for it;
// a deadline set after that (huma sets one to read the body, which is in memory by now) would end
// that watch, and cancel the request, when it passed: long polls died at five seconds. So deadlines
// set from here on are ignored; checkInput bounded its own read.
type bodyRead struct{ http.ResponseWriter }

func (bodyRead) SetReadDeadline(time.Time) error { return nil }

func (w bodyRead) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bodyReadTimeout bounds how long checkInput waits for a body, as huma would.
const bodyReadTimeout = 5 * time.Second

// checkRequest checks r, and reports whether it read (and put back) the body.
func checkRequest(w http.ResponseWriter, r *http.Request) (bool, *Problem) {
	if why := badText(r.URL.Path); why != "" {
		return false, inputProblem(http.StatusBadRequest, "path", "The request's path "+why+".")
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return false, inputProblem(http.StatusBadRequest, "query", "The query string is not valid percent-encoding: encode % as %25.")
	}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if why := badText(k); why != "" {
			return false, inputProblem(http.StatusBadRequest, "query", "A query parameter's name "+why+".")
		}
		for _, v := range query[k] {
			if why := badText(v); why != "" {
				return false, inputProblem(http.StatusBadRequest, "query."+k, "The query parameter "+k+" "+why+".")
			}
		}
	}
	for _, h := range []string{"Authorization", "Hearth-Session-Token", "Hearth-Provisioner-Key"} {
		if v := r.Header.Get(h); v != "" && (badText(v) != "" || strings.ContainsFunc(v, unicode.IsControl)) {
			return false, inputProblem(http.StatusBadRequest, "header."+h, "The "+h+" header holds characters no credential has; send the token as it was issued.")
		}
	}
	return checkBody(w, r)
}

// checkBody checks a JSON body and puts it back for the operation to read.
func checkBody(w http.ResponseWriter, r *http.Request) (bool, *Problem) {
	if r.Body == nil || r.Body == http.NoBody {
		return false, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return false, nil
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	head, err := io.ReadAll(io.LimitReader(r.Body, maxCheckedBody+1))
	_ = rc.SetReadDeadline(time.Time{})
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil {
		return true, inputProblem(http.StatusBadRequest, "body", "The request's body could not be read.")
	}
	if len(head) > maxCheckedBody {
		return true, nil // the operation's own size limit refuses it
	}
	if !utf8.Valid(head) {
		return true, inputProblem(http.StatusBadRequest, "body", "The body is not valid UTF-8: send JSON encoded as UTF-8.")
	}
	// An escape can still spell a NUL (\u0000), and names may hold control characters (escaped, as
	// JSON requires): look at the decoded strings when the raw text suggests either.
	if !bytes.Contains(head, []byte(`\u`)) && !bytes.Contains(head, []byte(`name"`)) {
		return true, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return true, nil //nolint:nilerr // malformed JSON: the operation says so, with where
	}
	if where, why := findBadString(v, "body", ""); where != "" {
		return true, inputProblem(http.StatusUnprocessableEntity, where, "The field "+where+" "+why+".")
	}
	return true, nil
}

// findBadString walks a decoded JSON value for a string no operation can store, or a name (a field
// called name or display_name) that holds control or bidirectional-override characters.
func findBadString(v any, where, key string) (string, string) {
	switch x := v.(type) {
	case string:
		if why := badText(x); why != "" {
			return where, why
		}
		if key == "name" || key == "display_name" {
			if why := badName(x); why != "" {
				return where, why
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if why := badText(k); why != "" {
				return where, "has a key that " + why
			}
			if w, why := findBadString(x[k], where+"."+k, k); w != "" {
				return w, why
			}
		}
	case []any:
		for i, e := range x {
			if w, why := findBadString(e, where+"["+strconv.Itoa(i)+"]", key); w != "" {
				return w, why
			}
		}
	}
	return "", ""
}

// badText says why s cannot be stored as text ("" when it can): a NUL byte, or invalid UTF-8.
func badText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character (\\u0000), which cannot be stored"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}

// badName says why s is not acceptable as a name shown to people: control characters (newlines,
// escape sequences) and bidirectional overrides, which make text read differently from what it is.
func badName(s string) string {
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "contains a control character (such as a newline or a terminal escape); names are one line of plain text"
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
			return "contains a bidirectional-override character, which would make it read differently from what it is"
		}
	}
	return ""
}

func inputProblem(status int, where, detail string) *Problem {
	return &Problem{Status: status, Title: http.StatusText(status), Detail: detail,
		Errors: []*huma.ErrorDetail{{Location: where, Message: detail}}}
}
