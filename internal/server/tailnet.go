package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coordinator"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/derphost"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// DERPRegionID is this deployment's own DERP region in the map it publishes.
const DERPRegionID = 1

// tailnetParts are the replica's coordinator and DERP server, or nothing when direct connections are off.
type tailnetParts struct {
	coordinator *coordinator.Coordinator
	coord       atomic.Pointer[coordinator.Coordinator] // the same, for the DERP server's admission
	listener    *pgnotify.Listener
	derp        *derphost.Host
	stopMesh    context.CancelFunc
	secret      []byte
}

func startTailnet(ctx context.Context, cfg Config, database *db.DB, replica uuid.UUID, accessURL string, secret []byte, changes *authz.Changes,
	log *slog.Logger) (*tailnetParts, error) {
	t := &tailnetParts{secret: secret}
	if !cfg.DERP {
		log.Info("direct connections are off (--derp=false): every connection goes through the relay")
		return t, nil
	}
	m := tailnet.DERPMap{}
	if cfg.DERPMapFile != "" {
		data, err := os.ReadFile(cfg.DERPMapFile)
		if err != nil {
			return nil, fmt.Errorf("--derp-map-file: %w", err)
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("--derp-map-file %s: not a DERP map ({\"regions\": [{\"id\", \"code\", \"name\", \"url\", \"stun_port\"}]}): %w", cfg.DERPMapFile, err)
		}
		for _, r := range m.Regions {
			if r.ID <= DERPRegionID || r.ID >= coordinator.FirstProxyRegion {
				return nil, fmt.Errorf("--derp-map-file %s: region %d: number your regions from %d to %d (%d is this deployment's own, workspace proxies' start at %d)",
					cfg.DERPMapFile, r.ID, DERPRegionID+1, coordinator.FirstProxyRegion-1, DERPRegionID, coordinator.FirstProxyRegion)
			}
		}
		if _, err := m.Tailscale(); err != nil {
			return nil, fmt.Errorf("--derp-map-file %s: %w", cfg.DERPMapFile, err)
		}
	}
	if _, err := tailnet.ParseNetworks(cfg.TailnetEndpoints); err != nil {
		return nil, fmt.Errorf("--tailnet-endpoints: %w", err)
	}
	listener, err := pgnotify.Listen(ctx, database.Pool, coordinator.Channel, log)
	if err != nil {
		return nil, err
	}
	t.listener = listener
	if !m.OmitDefaultRegions {
		stun := cfg.STUNAddress
		if stun == "auto" {
			h, _, _ := net.SplitHostPort(cfg.HTTPAddress)
			stun = net.JoinHostPort(h, "3478")
		}
		host, err := derphost.Start(ctx, derphost.Config{STUNAddress: stun, Logger: log, MeshKey: meshKey(secret, "hearth derp mesh"),
			Admit: func(ctx context.Context, k string) (bool, error) {
				if c := t.coord.Load(); c != nil && c.Direct().Owns(k) {
					return true, nil // the replica's own node
				}
				return database.TailnetKeyKnown(ctx, k)
			}})
		if err != nil {
			_ = listener.Close()
			return nil, err
		}
		t.derp = host
		u, _ := url.Parse(accessURL)
		m.Regions = append([]tailnet.Region{{ID: DERPRegionID, Code: "hearth", Name: "Hearth (" + u.Host + ")", URL: accessURL, STUNPort: host.STUNPort()}}, m.Regions...)
		m.OmitDefaultRegions = false
	}
	t.coordinator = coordinator.New(coordinator.Config{DB: database, Listener: listener, ReplicaID: replica, DERPMap: m,
		EndpointNetworks: cfg.TailnetEndpoints, Changes: changes, Logger: log})
	t.coord.Store(t.coordinator)
	t.coordinator.Start(ctx)
	if t.derp != nil {
		mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		t.stopMesh = func() { cancel(); <-done }
		go func() {
			defer close(done)
			t.meshLoop(mctx, database, replica, log)
		}()
	}
	return t, nil
}

// meshInterval is how often a replica looks for replicas to mesh with: a replica that starts is
// meshed with by the others within about this long (until then, nodes whose DERP homes are on
// the two do not reach each other through DERP).
const meshInterval = 2 * time.Second

// meshLoop keeps this replica's DERP server meshed with the other replicas' (reached at their
// relay addresses), so the deployment's DERP region is one however a load balancer spreads nodes.
func (t *tailnetParts) meshLoop(ctx context.Context, database *db.DB, self uuid.UUID, log *slog.Logger) {
	tick := time.NewTicker(meshInterval)
	defer tick.Stop()
	for {
		replicas, err := database.ListReplicas(ctx, relay.Fresh.Seconds())
		if err == nil {
			var urls []string
			for _, r := range replicas {
				if r.ID != self && r.RelayAddress != "" {
					urls = append(urls, strings.TrimSuffix(r.RelayAddress, "/")+"/derp")
				}
			}
			t.derp.Mesh(ctx, urls)
		} else if ctx.Err() == nil {
			log.Warn("derp: listing the replicas to mesh with failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// meshKey derives a DERP mesh key (64 hex digits) from the deployment's secret.
func meshKey(secret []byte, label string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(label))
	return hex.EncodeToString(mac.Sum(nil))
}

// proxyMeshKey is the mesh key of one workspace proxy's DERP servers (nil when direct connections
// are off): each proxy has its own, so no proxy can join another's region or the replicas'.
func (t *tailnetParts) proxyMeshKey() func(uuid.UUID) string {
	if t.coordinator == nil {
		return nil
	}
	return func(proxy uuid.UUID) string { return meshKey(t.secret, "hearth derp mesh proxy "+proxy.String()) }
}

func (t *tailnetParts) derpHandler() http.Handler {
	if t.derp == nil {
		return nil
	}
	return t.derp.Handler()
}

func (t *tailnetParts) stop(ctx context.Context) {
	if t.stopMesh != nil {
		t.stopMesh()
	}
	if t.coordinator != nil {
		t.coordinator.Stop(ctx)
	}
	if t.derp != nil {
		t.derp.Close()
	}
	if t.listener != nil {
		_ = t.listener.Close()
	}
}
