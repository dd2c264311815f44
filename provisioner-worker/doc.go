// Package provisioner will be the provisioner worker: it claims build jobs over HTTP with a pre-shared
// key, runs Terraform and reports results. It never touches PostgreSQL and talks to the control plane
// only through the generated client (checked by deps_test.go).
package provisioner
