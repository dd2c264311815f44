// Package codercmd is the `coder` command inside workspaces. Coder's templates call it from their
// scripts and metadata (`coder stat cpu`, `coder stat mem --host`, `coder stat disk --path $HOME`); the
// agent links it into CODER_SCRIPT_BIN_DIR, which is on the PATH of every script and session, so
// those templates run unchanged. It answers the commands that make sense inside a workspace, with
// Coder's output formats; any other prints what it does have.
package codercmd

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Main runs `coder ARGS…` and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	return run(sys{root: "/", sample: 100 * time.Millisecond}, args, stdout, stderr)
}

// stdin is what git-credential reads its request from.
var stdin io.Reader = os.Stdin

const usage = `Usage: coder stat [cpu|mem|disk] [flags]
       coder external-auth access-token PROVIDER_ID
       coder git-credential get
       coder gitssh -- SSH_ARGS

Hearth's coder command inside a workspace: it answers the in-workspace commands of Coder's CLI that
templates call.

  coder stat                 CPU, memory and home disk, of the workspace and the host
  coder stat cpu [--host]    CPU in use, in cores (the container's, or the host's with --host)
  coder stat mem [--host]    memory in use (--prefix Ki, Mi, Gi or Ti; default Gi)
  coder stat disk [--path P] disk space used on the file system holding P (default /)

Each takes -o text (default) or -o json.

  coder external-auth access-token ID   the owner's fresh token of an external auth provider
                                        the template uses (data "coder_external_auth")
  coder git-credential get              Git's credential helper for those providers' URLs (set up in
                                        sessions through GIT_CONFIG_*; GIT_ASKPASS works too)
  coder gitssh -- ARGS                  ssh offering the owner's Git SSH key (hearth publickey):
                                        GIT_SSH_COMMAND in sessions

Use the hearth CLI outside the workspace for the rest.
`

func run(s sys, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (strings.HasPrefix(args[0], "Username for ") || strings.HasPrefix(args[0], "Password for ")) {
		return askpass(args[0], stdout, stderr) // called by Git as GIT_ASKPASS
	}
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	switch args[0] {
	case "stat":
		return stat(s, args[1:], stdout, stderr)
	case "external-auth":
		return externalAuth(args[1:], stdout, stderr)
	case "git-credential":
		return gitCredential(args[1:], stdin, stdout, stderr)
	case "gitssh":
		return gitssh(args[1:], stdin, stdout, stderr)
	case "--version", "version":
		fmt.Fprintln(stdout, "Hearth's in-workspace coder command (a subset of Coder's CLI)")
		return 0
	}
	fmt.Fprintf(stderr, "coder %s: not a command of Hearth's in-workspace coder, which has: stat (cpu, mem, disk), external-auth access-token, git-credential, gitssh.\n"+
		"Run the hearth CLI outside the workspace for everything else.\n", args[0])
	return 2
}

func stat(s sys, args []string, stdout, stderr io.Writer) int {
	what := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		what, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("coder stat "+what, flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.Bool("host", false, "measure the host, not the container")
	output := fs.String("o", "text", "output format: text or json")
	fs.StringVar(output, "output", "text", "output format: text or json")
	prefix := fs.String("prefix", "Gi", "unit prefix: Ki, Mi, Gi or Ti")
	path := fs.String("path", "/", "the path whose file system to measure (disk)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, ok := prefixes[*prefix]; !ok || *prefix == "" {
		fmt.Fprintf(stderr, "coder stat: --prefix %q: use Ki, Mi, Gi or Ti\n", *prefix)
		return 2
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "coder stat: -o %q: use text or json\n", *output)
		return 2
	}
	var m measurement
	var err error
	switch what {
	case "cpu":
		m, err = s.cpu(*host)
	case "mem":
		m, err = s.mem(*host, *prefix)
	case "disk":
		m, err = disk(*path, *prefix)
	case "":
		return statAll(s, *output, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "coder stat %s: unknown; use cpu, mem or disk\n", what)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "coder stat %s: %v\n", what, err)
		return 1
	}
	return emit(m, *output, stdout)
}

func emit(m measurement, output string, stdout io.Writer) int {
	if output == "json" {
		_ = json.NewEncoder(stdout).Encode(m)
		return 0
	}
	fmt.Fprintln(stdout, m.String())
	return 0
}

// statAll prints Coder's `coder stat` table: the host's and, in a container, the container's.
func statAll(s sys, output string, stdout, stderr io.Writer) int {
	type row struct {
		name string
		m    func() (measurement, error)
	}
	home := "/"
	if h, err := userHome(); err == nil {
		home = h
	}
	rows := []row{
		{"host_cpu", func() (measurement, error) { return s.cpu(true) }},
		{"host_memory", func() (measurement, error) { return s.mem(true, "Gi") }},
		{"home_disk", func() (measurement, error) { return disk(home, "Gi") }},
	}
	if s.cgroup() != 0 {
		rows = append(rows,
			row{"container_cpu", func() (measurement, error) { return s.cpu(false) }},
			row{"container_memory", func() (measurement, error) { return s.mem(false, "Gi") }})
	}
	values := make(map[string]*measurement, len(rows))
	for _, r := range rows {
		m, err := r.m()
		if err != nil {
			fmt.Fprintf(stderr, "coder stat: %s: %v\n", r.name, err)
			values[r.name] = nil
			continue
		}
		values[r.name] = &m
	}
	if output == "json" {
		_ = json.NewEncoder(stdout).Encode(values)
		return 0
	}
	var head, line strings.Builder
	for i, r := range rows {
		v := "-"
		if m := values[r.name]; m != nil {
			v = m.String()
		}
		w := max(len(r.name), len(v))
		if i > 0 {
			head.WriteString("  ")
			line.WriteString("  ")
		}
		fmt.Fprintf(&head, "%-*s", w, strings.ToUpper(strings.ReplaceAll(r.name, "_", " ")))
		fmt.Fprintf(&line, "%-*s", w, v)
	}
	fmt.Fprintln(stdout, strings.TrimRight(head.String(), " "))
	fmt.Fprintln(stdout, strings.TrimRight(line.String(), " "))
	return 0
}
