//go:build !linux

package provisioner

// niced runs start: only Linux lowers Terraform's priority.
func niced(_ int, start func() error) error { return start() }
