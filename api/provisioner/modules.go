package provisioner

import (
	"context"
	"sync"
	"time"

	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// moduleHostsFor is how long a replica keeps the list of registry hosts it has modules of: a module
// of a new host pushed to another replica reaches jobs here within it.
const moduleHostsFor = 10 * time.Second

// moduleHosts caches the registry hosts Hearth's module registry serves.
type moduleHosts struct {
	mu     sync.Mutex
	hosts  []string
	loaded time.Time
}

// get lists the hosts, from the database at most every moduleHostsFor.
func (m *moduleHosts) get(ctx context.Context, q *dbsqlc.Queries) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.loaded) < moduleHostsFor {
		return m.hosts, nil
	}
	hosts, err := q.ListModuleHosts(ctx)
	if err != nil {
		return nil, err
	}
	m.hosts, m.loaded = hosts, time.Now()
	return hosts, nil
}
