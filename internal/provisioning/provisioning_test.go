package provisioning_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/provisioning"
)

func TestCovers(t *testing.T) {
	t.Parallel()
	eu := map[string]string{"region": "eu"}
	euGPU := map[string]string{"region": "eu", "gpu": "yes"}
	for _, tc := range []struct {
		worker, job map[string]string
		ok          bool
	}{
		{nil, nil, true},
		{eu, nil, false},
		{nil, eu, false},
		{eu, eu, true},
		{euGPU, eu, true},
		{eu, euGPU, false},
		{map[string]string{"region": "us"}, eu, false},
	} {
		require.Equal(t, tc.ok, provisioning.Covers(tc.worker, tc.job), "%v %v", tc.worker, tc.job)
	}
	require.Equal(t, []map[string]string{eu}, provisioning.Unmatched([]map[string]string{nil}, []map[string]string{nil, eu}))
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k := provisioning.NewKeys("old-key-0123456789", "", "new-key-0123456789")
	require.True(t, k.Valid("old-key-0123456789"))
	require.True(t, k.Valid("new-key-0123456789"))
	require.False(t, k.Valid(""))
	require.False(t, k.Valid("other"))
	require.True(t, provisioning.NewKeys().Empty())
}
