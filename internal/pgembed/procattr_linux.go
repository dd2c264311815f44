package pgembed

import "syscall"

// dieWithParent has the kernel send sig to the child when this process dies.
func dieWithParent(attr *syscall.SysProcAttr, sig syscall.Signal) { attr.Pdeathsig = sig }
