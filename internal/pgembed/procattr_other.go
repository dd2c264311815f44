//go:build !linux

package pgembed

import "syscall"

// dieWithParent does nothing where the kernel cannot signal a child at its parent's death (macOS):
// there a cluster whose server was killed lives on until it is stopped by hand.
func dieWithParent(*syscall.SysProcAttr, syscall.Signal) {}
