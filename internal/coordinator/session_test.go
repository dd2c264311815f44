package coordinator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/tailnet"
)

type delivery struct {
	peers   []tailnet.Node
	changed bool
	m       *tailnet.DERPMap
}

// recording is a session whose deliveries go to a channel; each waits for proceed when it is set.
func recording(t *testing.T, proceed chan struct{}, failWith error) (*session, chan delivery, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	got, failed := make(chan delivery, 16), make(chan error, 4)
	s := &session{ctx: ctx, kind: "agent",
		deliver: func(_ context.Context, peers []tailnet.Node, changed bool, m *tailnet.DERPMap) error {
			got <- delivery{peers, changed, m}
			if proceed != nil {
				<-proceed
			}
			return failWith
		},
		fail: func(err error) { failed <- err }}
	return s, got, failed
}

func next(t *testing.T, got chan delivery) delivery {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("nothing was delivered")
		return delivery{}
	}
}

func idle(s *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.busy
}

// A node slower than its updates gets the latest peer set and map, not every one in between; once
// everything is delivered, no goroutine is left waiting for the next update.
func TestASlowNodeGetsTheLatestUpdate(t *testing.T) {
	t.Parallel()
	proceed := make(chan struct{})
	s, got, _ := recording(t, proceed, nil)
	a, b, c := tailnet.Node{ID: uuid.New()}, tailnet.Node{ID: uuid.New()}, tailnet.Node{ID: uuid.New()}

	s.setPeers([]tailnet.Node{a})
	require.Equal(t, delivery{peers: []tailnet.Node{a}, changed: true}, next(t, got))
	s.setPeers([]tailnet.Node{a, b}) // while the first is being delivered
	s.setMap(tailnet.DERPMap{Regions: []tailnet.Region{{ID: 1}}})
	s.setPeers([]tailnet.Node{c})
	proceed <- struct{}{}
	d := next(t, got)
	require.Equal(t, []tailnet.Node{c}, d.peers)
	require.True(t, d.changed)
	require.NotNil(t, d.m)
	proceed <- struct{}{}

	// A new map alone comes with the set the node has, marked as no news.
	s.setMap(tailnet.DERPMap{Regions: []tailnet.Region{{ID: 2}}})
	d = next(t, got)
	require.Equal(t, []tailnet.Node{c}, d.peers)
	require.False(t, d.changed)
	proceed <- struct{}{}
	require.Eventually(t, func() bool { return idle(s) }, 5*time.Second, time.Millisecond)
	select {
	case d := <-got:
		t.Fatalf("delivered twice: %+v", d)
	default:
	}
}

// While a session holds its updates back (its first one is being written), what comes waits and
// goes at the release.
func TestHeldUpdatesGoAtTheRelease(t *testing.T) {
	t.Parallel()
	s, got, _ := recording(t, nil, nil)
	s.hold()
	n := tailnet.Node{ID: uuid.New()}
	s.setPeers([]tailnet.Node{n})
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, got, "held back")
	s.release()
	require.Equal(t, []tailnet.Node{n}, next(t, got).peers)
}

// A node that cannot take an update is reported once and sent nothing more.
func TestAFailedDeliveryEndsTheDeliveries(t *testing.T) {
	t.Parallel()
	broken := errors.New("write: broken pipe")
	s, got, failed := recording(t, nil, broken)
	s.setPeers(nil)
	next(t, got)
	select {
	case err := <-failed:
		require.ErrorIs(t, err, broken)
	case <-time.After(5 * time.Second):
		t.Fatal("the failure was not reported")
	}
	s.setPeers([]tailnet.Node{{ID: uuid.New()}})
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, got)
	require.Empty(t, failed)
}
