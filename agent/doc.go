// Package agent will run inside each workspace, giving SSH, terminals, port forwarding, apps, scripts
// and metadata over one tunnel to the control plane. It talks to the control plane only through the
// generated client (internal/client) and never imports the database, River or huma: deps_test.go at
// the repository root checks it.
package agent
