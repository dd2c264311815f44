package provisioner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Terraform runs in a process group of its own (terraform-exec starts it as the group's leader), and
// so does everything it starts that does not deliberately leave (a workspace agent that runs in a
// session of its own, as the local template's does, is meant to outlive the build). The worker runs
// Terraform through a small wrapper script in the job's directory that records the group and starts
// a watchdog, which ends the group if the worker dies first. When a job ends, and for the directories
// a dead worker left behind when it starts again, the worker kills what is left of those groups.

// wrapperName is the script, in the job's directory, that the worker runs as Terraform.
const wrapperName = "terraform-wrapper"

// groupsName is the file, in the job's directory, of the process groups its Terraform runs made.
const groupsName = "process-groups"

// writeWrapper writes the job's Terraform wrapper and returns its path, or "" when the directory's
// file system does not allow running programs (noexec), in which case Terraform runs directly.
func writeWrapper(dir, terraform string) (string, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err == nil && fs.Flags&0x8 != 0 { // ST_NOEXEC
		return "", nil
	}
	script := fmt.Sprintf(`#!/bin/sh
# Written by the Hearth provisioner worker: records this Terraform run's process group (its own pid,
# as terraform-exec makes it the group's leader) and ends the group if the worker dies first.
echo $$ >>%s
# The watchdog runs without the job's CLI configuration in its environment: it is not one of the
# job's leftovers (it ends by itself a second after Terraform).
env -u TF_CLI_CONFIG_FILE sh -c 'while kill -0 %d 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done
  kill -0 %d 2>/dev/null || kill -KILL -"$1"' watchdog $$ </dev/null >/dev/null 2>&1 &
exec %s "$@"
`, shellQuote(filepath.Join(dir, groupsName)), os.Getpid(), os.Getpid(), shellQuote(terraform))
	path := filepath.Join(dir, wrapperName)
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil { //nolint:gosec // the worker's own script, in its 0700 directory
		return "", err
	}
	return path, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// killLeftovers kills the processes still running in the process groups that the Terraform runs of
// the job directory dir made, and returns how many it killed. A process counts only if its
// environment still names the job's Terraform CLI configuration, which every process Terraform
// starts inherits: a group ID reused by an unrelated process since is left alone.
func killLeftovers(dir string) int {
	raw, err := os.ReadFile(filepath.Join(dir, groupsName))
	if err != nil {
		return 0
	}
	groups := map[int]bool{}
	for _, f := range strings.Fields(string(raw)) {
		if g, err := strconv.Atoi(f); err == nil && g > 1 {
			groups[g] = true
		}
	}
	if len(groups) == 0 {
		return 0
	}
	marker := []byte("\x00TF_CLI_CONFIG_FILE=" + filepath.Join(dir, "terraform.rc") + "\x00")
	procs, _ := os.ReadDir("/proc")
	killed := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if !groups[processGroup(pid)] {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", p.Name(), "environ"))
		if err != nil || !bytes.Contains(append(append([]byte{0}, env...), 0), marker) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

// processGroup reads a process's group from /proc/PID/stat (0 when it cannot).
func processGroup(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0
	}
	g, _ := strconv.Atoi(f[2])
	return g
}

// lockWorkDir takes the work directory for this process (an exclusive lock on a file in it), so two
// workers never clean up or deliver each other's jobs; the returned function releases it.
func lockWorkDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("provisioner: work directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("provisioner: work directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("provisioner: another worker is using the work directory %s; give each worker its own (--work-dir)", dir)
	}
	return func() { _ = f.Close() }, nil
}
