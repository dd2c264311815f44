package tailnet_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/tailnet"
)

// The deployment's endpoint networks: CIDR prefixes, blanks skipped, host bits cleared; anything
// else is named in the error, so a typo in --tailnet-endpoints stops the server with the reason.
func TestParseNetworks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []netip.Prefix
		err  string
	}{
		{in: nil, want: nil},
		{in: []string{"127.0.0.0/8", " ::1/128 ", ""}, want: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}},
		{in: []string{"198.51.100.7/24"}, want: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
		{in: []string{"127.0.0.0/8", "10.0.0.1"}, err: `"10.0.0.1" is not a network in CIDR form`},
		{in: []string{"lan"}, err: `"lan" is not a network in CIDR form`},
	} {
		got, err := tailnet.ParseNetworks(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}
