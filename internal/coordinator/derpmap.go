package coordinator

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// FirstProxyRegion is the DERP region ID of the first workspace proxy; an operator's own regions
// (--derp-map-file) are numbered below it.
const FirstProxyRegion = 10000

// mapFresh is how long a DERP map read from the database is used, and how often a coordinator
// looks for a new one to send the nodes it serves: a proxy that starts (or stops) serving DERP is
// in the map of every node within about twice this.
const mapFresh = 2 * time.Second

// derpMaps makes the deployment's DERP map: the regions it was started with (its own, an
// operator's) and one region per workspace proxy that serves DERP and has an instance alive.
type derpMaps struct {
	static tailnet.DERPMap
	db     *db.DB

	mu   sync.Mutex
	last tailnet.DERPMap
	at   time.Time
}

func (d *derpMaps) current(ctx context.Context) (tailnet.DERPMap, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && time.Since(d.at) < mapFresh {
		return d.last, nil
	}
	rows, err := d.db.ListProxyDERPRegions(ctx, relay.Fresh.Seconds())
	if err != nil {
		if !d.at.IsZero() {
			return d.last, err // the last map still serves
		}
		return d.static, err
	}
	m := tailnet.DERPMap{OmitDefaultRegions: d.static.OmitDefaultRegions, Regions: append([]tailnet.Region(nil), d.static.Regions...)}
	for _, r := range rows {
		m.Regions = append(m.Regions, tailnet.Region{ID: int(r.DerpRegionID), Code: r.Name, Name: "Workspace proxy " + r.Name,
			URL: r.Url, STUNPort: int(r.StunPort)})
	}
	d.last, d.at = m, time.Now()
	return m, nil
}

// DERPMap is the deployment's DERP map now. When the database cannot be read it is the last map
// read (or the one the deployment started with) and the error.
func (c *Coordinator) DERPMap(ctx context.Context) (tailnet.DERPMap, error) {
	return c.maps.current(ctx)
}

func sameMap(a, b tailnet.DERPMap) bool { return reflect.DeepEqual(a, b) }
