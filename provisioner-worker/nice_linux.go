package provisioner

import (
	"runtime"
	"syscall"
)

// niced runs start, which starts a process and waits for it, on an OS thread of its own whose nice
// value is nice, so the process (and every process it starts: Terraform's providers) runs at that
// CPU priority: Linux keeps a nice value per thread, and a child takes its parent thread's. The
// thread is discarded afterwards (the goroutine ends locked to it), so no other goroutine ever runs
// at the lowered priority. nice 0 runs start as it is.
func niced(nice int, start func() error) error {
	if nice == 0 {
		return start()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()                                 // never unlocked: the thread ends with this goroutine
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, nice) // who 0: the calling thread
		done <- start()
	}()
	return <-done
}
