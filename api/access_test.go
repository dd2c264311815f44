package api

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/password"
)

// The callers every operation is tried with. "member" is another member than the one the request
// names ("self"), so its column is "another user's token".
var callers = []string{"none", "expired", "revoked", "owner", "user-admin", "template-admin", "auditor", "member", "self"}

// public marks an operation that answers everyone alike and never with 401 or 403.
const public = -1

type access struct {
	body string // %s is replaced by a fresh name
	want []int  // one status per caller, in the order of callers; or {public}
	// contentType replaces application/json; params fill path parameters other than {user} and {id}.
	contentType string
	params      map[string]string
	// read marks a POST that changes nothing (its input is a body), which is not audited.
	read bool
}

// someID is an ID of nothing.
const someID = "6c7a9a8e-1f7e-4a43-9a4e-2f1f2b3c4d5e"

// noSuchJob and noSuchVersion name things that do not exist.
var (
	noSuchJob     = map[string]string{"{job}": "999999"}
	noSuchVersion = map[string]string{"{id}": "00000000-0000-4000-8000-000000000000"}
	unknownFile   = `{"file_id":"` + strings.Repeat("ab", 32) + `"}`
	// unknownModuleFile pushes a module from a file that was never uploaded; someModule names one.
	unknownModuleFile = `{"source":"registry.coder.com/hearth/x/coder","version":"1.0.0","file_id":"` + strings.Repeat("ab", 32) + `"}`
	noSuchProvider    = map[string]string{"{provider}": "github"}
	someModule        = map[string]string{"{host}": "registry.coder.com", "{namespace}": "hearth", "{name}": "x", "{system}": "coder", "{version}": "1.0.0"}
)

// tinyTar is a one-file tar archive.
var tinyTar = func() string {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	_ = tw.WriteHeader(&tar.Header{Name: "main.tf", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("# tf"))
	_ = tw.Close()
	return b.String()
}()

// all401 is the row of an operation that takes no user token at all (a provisioner key, a job token).
var all401 = []int{401, 401, 401, 401, 401, 401, 401, 401, 401}

// deny is the start of a row for an operation that needs a token.
func deny(statuses ...int) []int {
	return append([]int{401, 401, 401}, statuses...)
}

// accessTable declares, for every API operation, what each caller gets. Paths name the victim, a
// plain member, as {user}, and the victim's API token as {id}.
//
//	owner, user-admin, template-admin, auditor, member, self
var accessTable = map[string]access{
	"get-health":      {want: []int{public}},
	"get-ticket-keys": {want: []int{public}},
	// Reads only the dashboard's session cookie (the walker sends tokens as headers): a redirect to sign in for all.
	"get-applications-host": {want: []int{public}},
	"authorize-app":         {want: []int{public}, params: map[string]string{"/authorize": "/authorize?redirect_uri=http%3A%2F%2Ffiles--dev--victim.apps.localhost%2F"}},
	"get-auth-methods":      {want: []int{public}},
	// OIDC is off in this test (see oidc_test.go for it on): everyone gets 404.
	"oidc-login":         {want: []int{404, 404, 404, 404, 404, 404, 404, 404, 404}},
	"oidc-callback":      {want: []int{404, 404, 404, 404, 404, 404, 404, 404, 404}},
	"create-first-user":  {body: `{"username":"%s","email":"%s@example.com","password":"long-enough"}`, want: []int{409, 409, 409, 409, 409, 409, 409, 409, 409}},
	"logout":             {want: deny(204, 204, 204, 204, 204, 204)},
	"login":              {body: `{"login":"{user}","password":"victim-password"}`, want: []int{200, 200, 200, 200, 200, 200, 200, 200, 200}},
	"get-current-user":   {want: deny(200, 200, 200, 200, 200, 200)},
	"create-token":       {body: `{"name":"%s"}`, want: deny(403, 403, 404, 403, 404, 201)},
	"list-tokens":        {want: deny(200, 200, 404, 403, 404, 200)},
	"delete-token":       {want: deny(204, 204, 404, 403, 404, 204)},
	"create-user":        {body: `{"username":"%s","email":"%s@example.com"}`, want: deny(201, 201, 403, 403, 403, 403)},
	"list-users":         {want: deny(200, 200, 403, 200, 403, 403)},
	"get-user":           {want: deny(200, 200, 404, 200, 404, 200)},
	"update-user":        {body: `{"name":"%s"}`, want: deny(200, 200, 404, 403, 404, 200)},
	"get-git-ssh-key":    {want: deny(200, 200, 404, 200, 404, 200)},
	"get-user-quota":     {want: deny(200, 200, 404, 200, 404, 200)},
	"reset-git-ssh-key":  {want: deny(200, 200, 404, 403, 404, 200)},
	"update-user-roles":  {body: `{"roles":["auditor"]}`, want: deny(200, 200, 404, 403, 404, 403)},
	"suspend-user":       {want: deny(200, 200, 404, 403, 404, 403)},
	"activate-user":      {want: deny(200, 200, 404, 403, 404, 403)},
	"delete-user":        {want: deny(204, 204, 404, 403, 404, 403)},
	"change-password":    {body: `{"old_password":"victim-password","password":"%s-password"}`, want: deny(204, 204, 404, 403, 404, 204)},
	"list-audit-entries": {want: deny(200, 403, 403, 200, 403, 403)},
	// Provisioner workers authenticate with a pre-shared key or a job token, never a user's token.
	"create-module":               {body: unknownModuleFile, want: deny(404, 403, 404, 403, 403, 403)},
	"list-modules":                {want: deny(200, 200, 200, 200, 200, 200)},
	"module-registry-versions":    {params: someModule, want: all401},
	"module-registry-download":    {params: someModule, want: all401},
	"module-registry-archive":     {params: someModule, want: all401},
	"acquire-provisioner-job":     {body: `{"name":"w"}`, want: all401},
	"heartbeat-provisioner-job":   {params: noSuchJob, want: all401},
	"append-provisioner-job-logs": {body: `{"logs":[]}`, params: noSuchJob, want: all401},
	"complete-provisioner-job":    {body: `{}`, params: noSuchJob, want: all401},
	"fail-provisioner-job":        {body: `{"error":"x"}`, params: noSuchJob, want: all401},
	"list-provisioners":           {want: deny(200, 403, 200, 403, 403, 403)},
	"list-provisioner-jobs":       {want: deny(200, 403, 200, 403, 403, 403)},
	"cancel-provisioner-job":      {params: noSuchJob, want: deny(404, 403, 404, 403, 403, 403)},
	"download-file":               {params: map[string]string{"{id}": strings.Repeat("ab", 32)}, want: deny(404, 403, 404, 403, 403, 403)},
	"upload-file":                 {body: tinyTar, contentType: "application/x-tar", want: deny(201, 403, 201, 403, 403, 403)},
	"create-template-version":     {body: unknownFile, want: deny(404, 403, 404, 403, 403, 403)},
	"get-template-version":        {params: noSuchVersion, want: deny(404, 404, 404, 404, 404, 404)},
	"evaluate-dynamic-parameters": {body: `{"values":{}}`, params: noSuchVersion, want: deny(404, 404, 404, 404, 404, 404), read: true},
	// A version's rights are its template's: one that does not exist is not found by anyone.
	"get-template-version-logs":  {params: noSuchVersion, want: deny(404, 404, 404, 404, 404, 404)},
	"archive-template-version":   {params: noSuchVersion, want: deny(404, 404, 404, 404, 404, 404)},
	"unarchive-template-version": {params: noSuchVersion, want: deny(404, 404, 404, 404, 404, 404)},
	// {template} is a template with one workspace, the victim's, named {name}, with one finished
	// build, {build}; {version} is a version that belongs to no template yet.
	"create-template":             {body: `{"name":"%s","version_id":"{version}"}`, want: deny(201, 403, 201, 403, 403, 403)},
	"list-templates":              {want: deny(200, 200, 200, 200, 200, 200)},
	"get-template":                {want: deny(200, 200, 200, 200, 200, 200)},
	"update-template":             {body: `{"description":"%s"}`, want: deny(200, 403, 200, 403, 403, 403)},
	"delete-template":             {want: deny(409, 403, 409, 403, 403, 403)},
	"list-template-versions":      {want: deny(200, 200, 200, 200, 200, 200)},
	"set-template-active-version": {body: `{"version_id":"{active}"}`, want: deny(200, 403, 200, 403, 403, 403)},
	// The fixture's template is granted to Everyone for use: its access list is for its admins.
	"get-template-acl":    {want: deny(200, 403, 200, 403, 403, 403)},
	"update-template-acl": {body: `{"users":{"{user}":"use"}}`, want: deny(200, 403, 200, 403, 403, 403)},
	// Groups: user admins make and change them; every user sees them (to share with them by name).
	"create-group": {body: `{"name":"%s"}`, want: deny(201, 201, 403, 403, 403, 403)},
	"list-groups":  {want: deny(200, 200, 200, 200, 200, 200)},
	// External auth: each user's own links; the test deployment has no providers, so a named one is not found.
	"list-external-auth":          {want: deny(200, 200, 200, 200, 200, 200)},
	"get-external-auth":           {want: deny(404, 404, 404, 404, 404, 404), params: noSuchProvider},
	"external-auth-login":         {want: deny(404, 404, 404, 404, 404, 404), params: noSuchProvider},
	"external-auth-callback":      {want: []int{404, 404, 404, 404, 404, 404, 404, 404, 404}, params: noSuchProvider},
	"start-external-auth-device":  {want: deny(404, 404, 404, 404, 404, 404), params: noSuchProvider},
	"finish-external-auth-device": {body: `{"device_code":"x"}`, want: deny(404, 404, 404, 404, 404, 404), params: noSuchProvider},
	"unlink-external-auth":        {want: deny(404, 404, 404, 404, 404, 404), params: noSuchProvider},
	"get-group":                   {params: map[string]string{"{group}": "everyone"}, want: deny(200, 200, 200, 200, 200, 200)},
	"update-group":                {body: `{"display_name":"%s"}`, params: map[string]string{"{group}": "nope"}, want: deny(404, 404, 403, 403, 403, 403)},
	"delete-group":                {params: map[string]string{"{group}": "nope"}, want: deny(404, 404, 403, 403, 403, 403)},
	"create-workspace":            {body: `{"name":"%s","template":"{template}"}`, want: deny(201, 201, 201, 201, 201, 201)},
	"list-workspaces":             {want: deny(200, 200, 200, 200, 200, 200)},
	"list-prebuild-pools":         {want: deny(200, 403, 200, 200, 403, 403)},
	// Another member's workspace is not found; template admins and auditors see it but do not change it.
	"get-workspace":                   {want: deny(200, 404, 200, 200, 404, 200)},
	"get-workspace-by-owner-and-name": {want: deny(200, 404, 200, 200, 404, 200)},
	"update-workspace":                {body: `{"name":"%s"}`, want: deny(200, 404, 403, 403, 404, 200)},
	"update-workspace-autostart":      {body: `{"schedule":"30 8 * * 1-5"}`, want: deny(200, 404, 403, 403, 404, 200)},
	"watch-workspace":                 {params: map[string]string{"/watch": "/watch?once=true"}, want: deny(200, 404, 200, 200, 404, 200)},
	"update-workspace-ttl":            {body: `{"ttl_seconds":3600}`, want: deny(200, 404, 403, 403, 404, 200)},
	"update-workspace-dormancy":       {body: `{"dormant":false}`, want: deny(200, 404, 403, 403, 404, 200)},
	"get-workspace-acl":               {want: deny(200, 404, 200, 200, 404, 200)},
	"update-workspace-acl":            {body: `{"groups":{"everyone":"use"}}`, want: deny(200, 404, 403, 403, 404, 200)},
	// The fixture's workspace is not running with a deadline.
	"extend-workspace":         {body: `{"duration_seconds":3600}`, want: deny(409, 404, 403, 403, 404, 409)},
	"delete-workspace":         {want: deny(202, 404, 403, 403, 404, 202)},
	"create-workspace-build":   {body: `{"transition":"stop"}`, want: deny(201, 404, 403, 403, 404, 201)},
	"list-workspace-builds":    {want: deny(200, 404, 200, 200, 404, 200)},
	"get-workspace-build":      {want: deny(200, 404, 200, 200, 404, 200)},
	"cancel-workspace-build":   {want: deny(409, 404, 403, 403, 404, 409)},
	"get-workspace-build-logs": {want: deny(200, 404, 200, 200, 404, 200)},
	// {agent} is an agent of {build}, never connected: connections get 503 from those who may make them.
	"get-workspace-agent":         {want: deny(200, 404, 200, 200, 404, 200)},
	"get-workspace-agent-logs":    {want: deny(200, 404, 200, 200, 404, 200)},
	"connect-workspace-agent":     {params: map[string]string{"/connect": "/connect?kind=ssh"}, want: deny(503, 404, 403, 403, 404, 503)},
	"connect-workspace-agent-pty": {params: map[string]string{"/pty": "/pty?reconnect=6c7a9a8e-1f7e-4a43-9a4e-2f1f2b3c4d5e"}, want: deny(503, 404, 403, 403, 404, 503)},
	"relay-to-workspace-agent":    {want: []int{400, 400, 400, 400, 400, 400, 400, 400, 400}},
	// Coordinating a tailnet node with an agent: those who may connect to it (503: this test's
	// server runs no coordinator).
	"coordinate-workspace-agent": {params: map[string]string{"/coordinate": "/coordinate?id=" + someID}, want: deny(503, 404, 403, 403, 404, 503)},
	// The DERP map: every user (404: this test's server publishes none).
	"get-derp-map":             {want: deny(404, 404, 404, 404, 404, 404)},
	"create-connection-ticket": {want: deny(200, 404, 403, 403, 404, 200)},
	// Workspace proxies: owners register them, members see them; a running proxy authenticates
	// with its own token, never a user's.
	"create-workspace-proxy":            {body: `{"name":"%s"}`, want: deny(201, 403, 403, 403, 403, 403)},
	"list-workspace-proxies":            {want: deny(200, 200, 200, 200, 200, 200)},
	"delete-workspace-proxy":            {params: map[string]string{"{proxy}": "nope"}, want: deny(404, 403, 403, 403, 403, 403)},
	"register-workspace-proxy":          {body: `{"instance_id":"` + someID + `","url":"http://127.0.0.1:1"}`, want: all401},
	"deregister-workspace-proxy":        {body: `{"instance_id":"` + someID + `"}`, want: all401},
	"admit-workspace-proxy-derp-client": {body: `{"node_key":"nodekey:00"}`, want: all401},
	"connect-proxied-agent":             {body: `{"instance_id":"` + someID + `","agent_token":"x"}`, want: all401},
	"disconnect-proxied-agent":          {body: `{"connection_id":"` + someID + `"}`, params: map[string]string{"{agent}": someID}, want: all401},
	// Agents authenticate with their own token, never a user's.
	"get-workspace-agent-manifest":      {want: all401},
	"get-workspace-agent-external-auth": {want: all401},
	"get-workspace-agent-gitsshkey":     {want: all401},
	"connect-workspace-agent-tunnel":    {want: all401},
	"coordinate-workspace-agent-self":   {want: all401},
	"report-workspace-agent-lifecycle":  {body: `{"state":"ready"}`, want: all401},
	"upload-workspace-agent-logs":       {body: `{"logs":[]}`, want: all401},
	"report-workspace-agent-metadata":   {body: `{"items":[]}`, want: all401},
	"report-workspace-agent-app-health": {body: `{"apps":{}}`, want: all401},
	"report-workspace-agent-stats":      {body: `{"sessions_ssh":0,"sessions_pty":0,"sessions_tcp":0,"rx_bytes":0,"tx_bytes":0,"connections_total":0}`, want: all401},
	"report-workspace-agent-resources":  {body: `{}`, want: all401},
}

var victimHash = sync.OnceValue(func() string { return password.Hash("victim-password") })

// TestEveryOperationIsAuthorizedAsDeclared walks every operation in the OpenAPI document with every
// caller and compares the status with accessTable. A new operation without a row fails here. Each
// call gets a fresh caller and victim, so one call's change (a deletion, a sign-out) never decides
// the next one's answer. Every change that succeeds must have written its audit entry.
func TestEveryOperationIsAuthorizedAsDeclared(t *testing.T) {
	t.Parallel()
	type op struct{ id, method, path string }
	var ops []op
	for path, item := range Spec().Paths {
		for method, o := range map[string]*huma.Operation{
			"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete,
			"HEAD": item.Head, "OPTIONS": item.Options, "TRACE": item.Trace,
		} {
			if o != nil {
				ops = append(ops, op{o.OperationID, method, path})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	seen := map[string]bool{}
	for _, o := range ops {
		seen[o.id] = true
		row, ok := accessTable[o.id]
		if !ok {
			t.Errorf("operation %s (%s %s) has no row in accessTable: declare who may call it", o.id, o.method, o.path)
			continue
		}
		if row.want[0] != public {
			require.Len(t, row.want, len(callers), o.id)
		}
		t.Run(o.id, func(t *testing.T) {
			t.Parallel()
			w := newWalker(t)
			for i, caller := range callers {
				status := w.call(t, o.method, o.path, row, caller)
				if row.want[0] == public {
					require.NotContains(t, []int{401, 403}, status, "%s as %s", o.id, caller)
					continue
				}
				require.Equal(t, row.want[i], status, "%s %s as %s", o.method, o.path, caller)
				if o.method != "GET" && !row.read {
					w.requireAudited(t, o.id, status)
				}
			}
		})
	}
	for id := range accessTable {
		require.True(t, seen[id], "accessTable names %s, which is not an operation", id)
	}
}

type walker struct {
	b bundle
	n atomic.Int64
}

func newWalker(t *testing.T) *walker {
	return &walker{b: setup(t)}
}

func (w *walker) name(prefix string) string { return fmt.Sprintf("%s%d", prefix, w.n.Add(1)) }

// user inserts a user with roles and an API token, straight into the database.
func (w *walker) user(t *testing.T, roles []string, expires time.Time) (dbsqlc.User, dbsqlc.ApiKey, string) {
	t.Helper()
	ctx := context.Background()
	hash := victimHash()
	u, err := w.b.db.InsertUser(ctx, dbsqlc.InsertUserParams{Username: w.name("u"), Email: w.name("e") + "@example.com", PasswordHash: &hash, Roles: roles})
	require.NoError(t, err)
	k := apikey.New()
	row, err := w.b.db.InsertAPIKey(ctx, dbsqlc.InsertAPIKeyParams{ID: k.ID, UserID: u.ID, Kind: "token", Name: w.name("t"),
		SecretHash: k.SecretHash, Scopes: []string{"all"}, ExpiresAt: expires})
	require.NoError(t, err)
	return u, row, k.Token
}

func (w *walker) call(t *testing.T, method, path string, row access, caller string) int {
	t.Helper()
	later := time.Now().Add(time.Hour)
	victim, victimKey, victimToken := w.user(t, []string{}, later)
	var token string
	switch caller {
	case "none":
	case "self":
		token = victimToken
	case "expired":
		_, _, token = w.user(t, []string{}, time.Now().Add(-time.Minute))
	case "revoked":
		u, k, tok := w.user(t, []string{}, later)
		_, err := w.b.db.DeleteAPIKey(context.Background(), dbsqlc.DeleteAPIKeyParams{ID: k.ID, UserID: u.ID})
		require.NoError(t, err)
		token = tok
	case "member":
		_, _, token = w.user(t, []string{}, later)
	default:
		_, _, token = w.user(t, []string{caller}, later)
	}
	fresh := w.name("n")
	if strings.Contains(path+row.body, "{template}") || strings.Contains(path+row.body, "{workspace}") || strings.Contains(path+row.body, "{build}") || strings.Contains(path, "{agent}") ||
		strings.Contains(path+row.body, "{name}") || strings.Contains(row.body, "{version}") || strings.Contains(row.body, "{active}") {
		f := w.fixture(t, victim.ID)
		r := strings.NewReplacer("{agent}", f.agent, "{template}", f.template, "{workspace}", f.workspace, "{name}", f.name, "{build}", f.build,
			"{version}", f.version, "{active}", f.active)
		path = r.Replace(path)
		row.body = r.Replace(row.body)
	}
	body := row.body
	if row.contentType == "" {
		body = strings.ReplaceAll(body, "%s", fresh)
		body = strings.ReplaceAll(body, "{user}", victim.Username)
	}
	for k, v := range row.params {
		path = strings.ReplaceAll(path, k, v)
	}
	path = strings.NewReplacer("{user}", victim.Username, "{id}", victimKey.ID).Replace(path)
	var headers []string
	if token != "" {
		headers = []string{"Authorization", "Bearer " + token}
	}
	if row.contentType != "" {
		headers = append(headers, "Content-Type", row.contentType)
	}
	res, p := call(t, method, w.b.srv.URL+path, body, headers...)
	if (res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable) || res.StatusCode == 422 {
		t.Fatalf("%s %s as %s: %d %v", method, path, caller, res.StatusCode, p)
	}
	return res.StatusCode
}

type fixture struct{ template, workspace, name, build, version, active, agent string }

// fixture makes, straight in the database, a template and a workspace of owner's on it.
func (w *walker) fixture(t testing.TB, owner uuid.UUID) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{template: w.name("tpl"), name: w.name("ws")}
	var hash [32]byte
	_, _ = rand.Read(hash[:])
	q := w.b.db.Pool
	_, err := q.Exec(ctx, "INSERT INTO files (hash, content_type, data) VALUES ($1, 'application/x-tar', '')", hash[:])
	require.NoError(t, err)
	version := func() string {
		var id string
		require.NoError(t, q.QueryRow(ctx, "INSERT INTO template_versions (file_hash, status, name) VALUES ($1, 'succeeded', 'v1') RETURNING id", hash[:]).Scan(&id))
		return id
	}
	f.active, f.version = version(), version()
	var tpl string
	require.NoError(t, q.QueryRow(ctx, "INSERT INTO templates (name, active_version_id) VALUES ($1, $2) RETURNING id", f.template, f.active).Scan(&tpl))
	_, err = q.Exec(ctx, "UPDATE template_versions SET template_id = $1 WHERE id = $2", tpl, f.active)
	require.NoError(t, err)
	_, err = q.Exec(ctx, "INSERT INTO template_grants (template_id, group_id, role) VALUES ($1, '00000000-0000-0000-0000-00000000e0e0', 'use')", tpl)
	require.NoError(t, err)
	require.NoError(t, q.QueryRow(ctx, "INSERT INTO workspaces (owner_id, template_id, name) VALUES ($1, $2, $3) RETURNING id", owner, tpl, f.name).Scan(&f.workspace))
	require.NoError(t, q.QueryRow(ctx, `INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status)
		VALUES ($1, 1, $2, 'start', 'succeeded') RETURNING id`, f.workspace, f.active).Scan(&f.build))
	var resource string
	require.NoError(t, q.QueryRow(ctx, `INSERT INTO workspace_resources (build_id, type, name) VALUES ($1, 'null_resource', 'dev') RETURNING id`,
		f.build).Scan(&resource))
	require.NoError(t, q.QueryRow(ctx, `INSERT INTO workspace_agents (resource_id, build_id, name, os, arch, token_hash)
		VALUES ($1, $2, 'main', 'linux', 'amd64', $3) RETURNING id`, resource, f.build, hash[:]).Scan(&f.agent))
	return f
}

// requireAudited checks that the last request left the audit entry it should: a success when it
// succeeded, a failure when it was refused after authentication.
func (w *walker) requireAudited(t *testing.T, op string, status int) {
	t.Helper()
	var got int
	var result string
	err := w.b.db.Pool.QueryRow(context.Background(),
		"SELECT status, result FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1", op).Scan(&got, &result)
	if status == http.StatusUnauthorized && op != "login" {
		return // never reached the operation
	}
	require.NoError(t, err, "%s answered %d without an audit entry", op, status)
	require.Equal(t, status, got, op)
	if status < 400 {
		require.Equal(t, "success", result, op)
	} else {
		require.Equal(t, "failure", result, op)
	}
	_, err = w.b.db.Pool.Exec(context.Background(), "DELETE FROM audit_log")
	require.NoError(t, err)
}
