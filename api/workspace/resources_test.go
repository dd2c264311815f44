package workspace

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// A watched resource at or over its threshold is an alert; unwatched ones are not reported.
func TestMonitoredResourcesAlertAtTheirThresholds(t *testing.T) {
	t.Parallel()
	a := dbsqlc.WorkspaceAgent{
		ResourcesMonitoring: []byte(`{"memory":{"enabled":true,"threshold":80},"volumes":[{"path":"/home","enabled":true,"threshold":90},{"path":"/tmp","enabled":false,"threshold":10}]}`),
		ResourcesUsage:      []byte(`{"memory":{"used_bytes":850,"total_bytes":1000},"volumes":[{"path":"/home","used_bytes":10,"total_bytes":100},{"path":"/tmp","used_bytes":99,"total_bytes":100}]}`),
	}
	r := monitored(a)
	require.True(t, r.Alert)
	require.Equal(t, &Monitored{UsedBytes: 850, TotalBytes: 1000, Percent: 85, Threshold: 80, Alert: true}, r.Memory)
	require.Equal(t, []Monitored{{Path: "/home", UsedBytes: 10, TotalBytes: 100, Percent: 10, Threshold: 90}}, r.Volumes, "a disabled volume is not watched")
	calm := monitored(dbsqlc.WorkspaceAgent{ResourcesMonitoring: []byte(`{}`), ResourcesUsage: []byte(`{}`)})
	require.False(t, calm.Alert)
	require.Nil(t, calm.Memory)
}
