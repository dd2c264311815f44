// Package proxy will be the regional workspace proxy that relays SSH, port-forward and app traffic.
// It has no database access: tickets signed by the control plane carry its authority, and it talks to
// the control plane only through the generated client (checked by deps_test.go).
package proxy
