package derphost

import (
	"bytes"
	"expvar"
	"io"
	"regexp"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descClients   = prometheus.NewDesc("hearth_derp_clients", "Nodes connected to this replica's DERP server.", nil, nil)
	descRemote    = prometheus.NewDesc("hearth_derp_mesh_clients", "Nodes connected to the DERP servers this one meshes with, as they announced them.", nil, nil)
	descPackets   = prometheus.NewDesc("hearth_derp_packets_total", "WireGuard and discovery packets this DERP server received from its nodes, sent to them, or forwarded to and from the servers it meshes with.", []string{"direction"}, nil)
	descBytes     = prometheus.NewDesc("hearth_derp_bytes_total", "Bytes this DERP server received from its nodes and sent to them.", []string{"direction"}, nil)
	descDropped   = prometheus.NewDesc("hearth_derp_packets_dropped_total", "Packets this process's DERP servers dropped, by reason (unknown_dest: no node with the destination key here or at a meshed server) and kind (disco or other).", []string{"reason", "kind"}, nil)
	droppedSeries = regexp.MustCompile(`(?m)^derp_packets_dropped\{reason="([^"]*)",kind="([^"]*)"\} (\d+)$`)
)

// Describe implements prometheus.Collector (an unchecked one: the drop reasons are tailscale's).
func (h *Host) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector: the DERP server's counters.
func (h *Host) Collect(ch chan<- prometheus.Metric) {
	vars := map[string]float64{}
	if m, ok := h.derp.ExpVar(false).(interface{ Do(func(expvar.KeyValue)) }); ok {
		m.Do(func(kv expvar.KeyValue) {
			if v, err := strconv.ParseFloat(kv.Value.String(), 64); err == nil {
				vars[kv.Key] = v
			}
		})
	}
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, vars["gauge_current_connections"])
	ch <- prometheus.MustNewConstMetric(descRemote, prometheus.GaugeValue, vars["gauge_clients_remote"])
	for dir, key := range map[string]string{"received": "packets_received", "sent": "packets_sent", "forwarded_in": "packets_forwarded_in", "forwarded_out": "packets_forwarded_out"} {
		ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, vars[key], dir)
	}
	for dir, key := range map[string]string{"received": "bytes_received", "sent": "bytes_sent"} {
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, vars[key], dir)
	}
	// Drops are counted per process by tailscale's DERP server, in its own exposition format.
	if v, ok := expvar.Get("derp_packets_dropped").(interface{ WritePrometheus(io.Writer, string) }); ok {
		var b bytes.Buffer
		v.WritePrometheus(&b, "derp_packets_dropped")
		for _, m := range droppedSeries.FindAllSubmatch(b.Bytes(), -1) {
			n, _ := strconv.ParseFloat(string(m[3]), 64)
			ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, n, string(m[1]), string(m[2]))
		}
	}
}
