package derphost

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// A replica's DERP server is seen in its metrics: its nodes, its packets each way, and the packets
// it dropped by reason.
func TestTheDERPServerIsInTheMetrics(t *testing.T) {
	t.Parallel()
	h, err := Start(t.Context(), Config{Admit: func(context.Context, string) (bool, error) { return true, nil }, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(h.Close)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(h))
	families, err := reg.Gather()
	require.NoError(t, err)
	series := map[string]int{}
	var unknownDest bool
	for _, f := range families {
		series[f.GetName()] = len(f.GetMetric())
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			unknownDest = unknownDest || labels["reason"] == "unknown_dest" && labels["kind"] == "other"
		}
	}
	require.Equal(t, 1, series["hearth_derp_clients"])
	require.Equal(t, 4, series["hearth_derp_packets_total"], "received, sent, forwarded in and out")
	require.GreaterOrEqual(t, series["hearth_derp_packets_dropped_total"], 14, "7 reasons × disco and other")
	require.True(t, unknownDest)
}
