package authz

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A connection is checked again after a change announced since (or shortly before) its last check,
// and every RecheckInterval; without Changes, at every look.
func TestAConnectionIsCheckedAgainAfterAnAnnouncedChange(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := &Changes{}
	require.False(t, c.Due(now.Add(-time.Second), now), "nothing announced")
	require.True(t, c.Due(now.Add(-RecheckInterval), now), "the periodic check")
	c.Announce()
	require.True(t, c.Due(now.Add(-time.Second), now), "announced since the last check")
	require.True(t, c.Due(time.Now().Add(changeSettle/2), now), "announced shortly before the last check: the token cache may have been stale")
	require.False(t, c.Due(time.Now().Add(2*changeSettle), now), "announced long before the last check")
	var none *Changes
	require.True(t, none.Due(now, now))
}
