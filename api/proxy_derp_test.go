package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/coordinator"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// A workspace proxy whose instances serve DERP is a region of the deployment's DERP map while one
// of them runs: numbered from 10000, coded by its name. Its instances get their proxy's mesh key
// (not another proxy's) and each other's DERP addresses; its DERP server asks the control plane
// about each client's node key with the proxy's token. A node already coordinating is sent the new map.
func TestAWorkspaceProxyIsADERPRegionWhileItRuns(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	listener, err := pgnotify.Listen(context.Background(), d.Pool, coordinator.Channel, dbtest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close() })
	own := tailnet.Region{ID: 1, Code: "hearth", Name: "Hearth", URL: "http://hearth.test", STUNPort: 3478}
	co := coordinator.New(coordinator.Config{DB: d, Listener: listener, ReplicaID: uuid.New(), Logger: dbtest.Logger(),
		DERPMap: tailnet.DERPMap{Regions: []tailnet.Region{own}}})
	b := setupOn(t, d, func(deps *Deps) {
		deps.Coordinator = co
		deps.ProxyMeshKey = func(p uuid.UUID) string { return "mesh-key-of-" + p.String() }
	})
	co.Start(context.Background())
	t.Cleanup(func() { co.Stop(context.Background()) })
	ownerAuth := []string{"Authorization", "Bearer " + owner(t, b)}
	// An agent coordinating from before the proxy starts.
	agentID := uuid.New()
	coordination := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ws, err := websocket.Accept(w, r, nil); err == nil {
			_ = co.Serve(r.Context(), ws, coordinator.Peer{ID: agentID, AgentID: agentID})
		}
	}))
	t.Cleanup(coordination.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := tailnet.Dial(ctx, coordination.URL, nil)
	require.NoError(t, err)
	defer func() { _ = node.Close() }()
	require.Len(t, node.DERPMap().Regions, 1)
	create := func(name string) string {
		res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaceproxies", `{"name":"`+name+`"}`, ownerAuth...)
		require.Equal(t, http.StatusCreated, res.StatusCode, p)
		return p["token"].(string)
	}
	eu, us := create("eu"), create("us")
	register := func(token, instance, url string, derp bool) map[string]any {
		body := `{"instance_id":"` + instance + `","url":"` + url + `","derp":` + map[bool]string{true: "true", false: "false"}[derp] + `,"stun_port":3479}`
		res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaceproxies/me/register", body, "Hearth-Proxy-Token", token)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		return p
	}
	regions := func() []any {
		res, p := call(t, "GET", b.srv.URL+"/api/v2/derp-map", "", ownerAuth...)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		return p["regions"].([]any)
	}
	require.Len(t, regions(), 1, "no proxy runs yet")

	a, bInstance := uuid.NewString(), uuid.NewString()
	first := register(eu, a, "http://a.eu.test", true)
	require.GreaterOrEqual(t, first["derp_region_id"], float64(coordinator.FirstProxyRegion))
	require.Empty(t, first["derp_mesh"], "no other instance to mesh with")
	second := register(eu, bInstance, "http://b.eu.test", true)
	require.Equal(t, first["derp_mesh_key"], second["derp_mesh_key"], "one key per proxy")
	require.Equal(t, []any{"http://a.eu.test/derp"}, second["derp_mesh"])
	other := register(us, uuid.NewString(), "http://us.test", false)
	require.Nil(t, other["derp_mesh_key"], "an instance that serves no DERP gets no mesh key")
	require.NotEqual(t, first["derp_region_id"], other["derp_region_id"])

	// The map has eu (the URL its instances registered last) and not us, which serves no DERP.
	var got []any
	waitFor(t, func() bool { got = regions(); return len(got) == 2 }, "the proxy's region in the DERP map")
	region := got[1].(map[string]any)
	require.Equal(t, first["derp_region_id"], region["id"])
	require.Equal(t, "eu", region["code"])
	require.Equal(t, "http://b.eu.test", region["url"])
	require.EqualValues(t, 3479, region["stun_port"])
	for {
		u, err := node.Next(ctx)
		require.NoError(t, err, "the coordinator sends the agent the new map")
		if u.DERPMap != nil {
			require.Len(t, u.DERPMap.Regions, 2)
			require.Equal(t, "eu", u.DERPMap.Regions[1].Code)
			require.NotNil(t, u.Peers, "an update with a new map still has the peers")
			break
		}
	}

	// Admission: a key no coordinator serves is not admitted; another token is no proxy's.
	admit := func(token string) (int, map[string]any) {
		res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaceproxies/me/derp-admission", `{"node_key":"nodekey:`+uuid.NewString()+`"}`, "Hearth-Proxy-Token", token)
		return res.StatusCode, p
	}
	status, p := admit(eu)
	require.Equal(t, http.StatusOK, status, p)
	require.Equal(t, false, p["allow"])
	status, _ = admit("hrt_abcdefgh_" + "0123456789abcdef0123456789abcdef")
	require.Equal(t, http.StatusUnauthorized, status)

	// Once both instances stop, the region leaves the map.
	for _, i := range []string{a, bInstance} {
		res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaceproxies/me/deregister", `{"instance_id":"`+i+`"}`, "Hearth-Proxy-Token", eu)
		require.Equal(t, http.StatusNoContent, res.StatusCode, p)
	}
	waitFor(t, func() bool { return len(regions()) == 1 }, "the region to leave the map")
}
