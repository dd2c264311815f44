// Package agent runs inside each workspace. It fetches its manifest with its token, holds one tunnel
// to the control plane (a websocket with yamux over it) through which the server opens a stream per
// SSH connection, web terminal, port forward or app request, runs the template's scripts and
// reports its lifecycle, script output, metadata, app health and statistics.
//
// It talks to the control plane only through the generated client (client) and the tunnel
// protocol (internal/tunnel), and never imports the database, River or huma: deps_test.go at the
// repository root checks it.
package agent
