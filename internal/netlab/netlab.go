// Package netlab builds throwaway networks out of Linux network namespaces for tests: hosts joined
// by veth pairs, a switch (a bridge) and NAT routers, with firewall rules a test can add as it
// goes. Every address lives inside the namespaces a lab made, so a test's traffic never leaves them;
// the lab and what runs in it are removed when the test ends.
//
// It needs root, iproute2 and iptables. A kernel that refuses network namespaces skips the test
// with the reason, unless HEARTH_NETNS=1 (as in CI), where it fails instead.
package netlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// RequireEnv makes a missing namespace capability a failure instead of a skip.
const RequireEnv = "HEARTH_NETNS"

// Lab is one test's set of namespaces.
type Lab struct {
	t      testing.TB
	prefix string
	spaces []*Namespace
}

// New starts a lab, or skips the test where namespaces cannot be made.
func New(t testing.TB) *Lab {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	l := &Lab{t: t, prefix: "hl" + hex.EncodeToString(b) + "-"}
	missing := func(why string) {
		t.Helper()
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("netlab: %s (%s=1: the test must run)", why, RequireEnv)
		}
		t.Skipf("netlab: %s; set %s=1 to make this a failure", why, RequireEnv)
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(tool + " is not installed (apt-get install iproute2 iptables)")
		}
	}
	if os.Geteuid() != 0 {
		missing("network namespaces need root")
	}
	probe := l.prefix + "probe"
	if out, err := exec.CommandContext(t.Context(), "ip", "netns", "add", probe).CombinedOutput(); err != nil {
		missing("the kernel refuses network namespaces: " + strings.TrimSpace(string(out)))
	}
	_ = exec.CommandContext(t.Context(), "ip", "netns", "del", probe).Run()
	t.Cleanup(l.remove)
	return l
}

// Namespace is one host (or router, or switch) of the lab.
type Namespace struct {
	lab  *Lab
	Name string
}

// Namespace makes a namespace with its loopback up.
func (l *Lab) Namespace(name string) *Namespace {
	l.t.Helper()
	n := &Namespace{lab: l, Name: l.prefix + name}
	l.run("ip", "netns", "add", n.Name)
	l.spaces = append(l.spaces, n)
	n.Run("ip", "link", "set", "lo", "up")
	return n
}

// Command prepares a command to run inside the namespace; it is killed when the test ends.
func (n *Namespace) Command(name string, arg ...string) *exec.Cmd {
	return exec.CommandContext(n.lab.t.Context(), "ip", append([]string{"netns", "exec", n.Name, name}, arg...)...)
}

// Run runs a command inside the namespace and fails the test if it fails.
func (n *Namespace) Run(name string, arg ...string) {
	n.lab.t.Helper()
	n.lab.run("ip", append([]string{"netns", "exec", n.Name, name}, arg...)...)
}

// Link joins two namespaces with a veth pair: interface aIf in a, bIf in b, each given its
// address (CIDR form; empty for none) and brought up.
func (l *Lab) Link(a *Namespace, aIf, aAddr string, b *Namespace, bIf, bAddr string) {
	l.t.Helper()
	l.run("ip", "link", "add", "name", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name)
	for _, end := range []struct {
		n        *Namespace
		dev, adr string
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if end.adr != "" {
			end.n.Run("ip", "addr", "add", end.adr, "dev", end.dev)
		}
		end.n.Run("ip", "link", "set", end.dev, "up")
	}
}

// Switch makes a bridge in the namespace, with an address of its own (CIDR; empty for none), and
// plugs the given interfaces of that namespace into it.
func (n *Namespace) Switch(bridge, addr string, ports ...string) {
	n.lab.t.Helper()
	n.Run("ip", "link", "add", bridge, "type", "bridge")
	for _, p := range ports {
		n.Run("ip", "link", "set", p, "master", bridge)
	}
	if addr != "" {
		n.Run("ip", "addr", "add", addr, "dev", bridge)
	}
	n.Run("ip", "link", "set", bridge, "up")
}

// Route sends everything the namespace does not reach directly to gateway.
func (n *Namespace) Route(gateway string) {
	n.lab.t.Helper()
	n.Run("ip", "route", "add", "default", "via", gateway)
}

// NAT makes the namespace a router that forwards and masquerades what leaves by wan, as a home
// router does: outgoing connections get the router's address, unsolicited incoming packets are
// dropped. Dropped, not refused: a packet the router answered itself would leave a connection
// behind that takes the port a later outgoing packet to the same peer wants, and hole punching
// (both sides sending at once) would never meet.
func (n *Namespace) NAT(wan string) {
	n.lab.t.Helper()
	n.Run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	n.Run("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", wan, "-j", "MASQUERADE")
	for _, chain := range []string{"INPUT", "FORWARD"} {
		n.Run("iptables", "-A", chain, "-i", wan, "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", "-j", "DROP")
	}
}

// Firewall puts a rule first in the namespace's FORWARD chain (iptables syntax, what follows
// "-I FORWARD"), for a router that blocks some of what passes through it.
func (n *Namespace) Firewall(rule ...string) {
	n.lab.t.Helper()
	n.Run("iptables", append([]string{"-I", "FORWARD"}, rule...)...)
}

func (l *Lab) run(name string, arg ...string) {
	l.t.Helper()
	if out, err := exec.CommandContext(l.t.Context(), name, arg...).CombinedOutput(); err != nil {
		l.t.Fatalf("netlab: %s %s: %v\n%s", name, strings.Join(arg, " "), err, out)
	}
}

// remove kills whatever still runs in the lab's namespaces (a workspace's agent started in the
// background, say) and deletes them.
func (l *Lab) remove() {
	for _, n := range l.spaces {
		out, _ := exec.CommandContext(context.Background(), "ip", "netns", "pids", n.Name).Output() // the test's context is done by now
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = exec.CommandContext(context.Background(), "ip", "netns", "del", n.Name).Run()
	}
}
