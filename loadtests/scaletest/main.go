// Command scaletest puts a Hearth deployment under the load of many workspaces: it creates users and
// workspaces from a template whose agents it simulates itself (one process holding every agent's
// tunnel and reporting two metadata items every 10 s each), holds them connected, and reports
// per-stage latencies, errors, and the server's and PostgreSQL's CPU and memory. It cleans up
// everything it made.
//
//	go run ./loadtests/scaletest --local --agents 1000 --duration 60s   # starts its own server
//	go run ./loadtests/scaletest --url http://127.0.0.1:3000 --token $TOKEN --agents 200
//
// Every loop is bounded in count and time, and only loopback targets are accepted unless
// --allow-remote is given.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Config is a run's configuration.
type Config struct {
	URL, Token string
	// Local starts a server (Hearth binary, embedded PostgreSQL, built-in workers) for the run.
	Local        bool
	Binary       string
	Mirror       string
	Provisioners int

	Agents int
	// AgentsPerWorkspace is how many simulated agents each workspace has (1 to 5; 0 is 1).
	AgentsPerWorkspace int
	Duration           time.Duration
	Interval           time.Duration
	Concurrency        int
	// DashboardRPS is the rate of dashboard reads during the steady stage (0: none).
	DashboardRPS int
	// TrafficSessions workspaces get an SSH session, a web terminal and app requests during the
	// steady stage, each doing a round trip every TrafficInterval (0: none).
	TrafficSessions int
	TrafficInterval time.Duration
	// SigninRPS is the rate of sign-ins (password, the user, sign-out) during the steady stage (0:
	// none; the users then get no password).
	SigninRPS int
	// ChurnWorkspaces workspaces are stopped and started over and over during the steady stage, each
	// starting a cycle every ChurnEvery (or as soon as its last one ends, if that took longer).
	ChurnWorkspaces int
	// Tailnet makes every simulated agent coordinate a WireGuard node as well (direct connections).
	Tailnet    bool
	ChurnEvery time.Duration
	// P95 are the steady stage's thresholds: an operation (or, ending in *, every operation with that
	// prefix) whose p95 latency is over its milliseconds fails the stage.
	P95         map[string]float64
	AllowRemote bool
	// ServerPID, when set (or with Local), is sampled for CPU and memory, with the PostgreSQL
	// processes under it.
	ServerPID int
	// Timeout bounds the whole run.
	Timeout time.Duration
}

// Report is a run's result.
type Report struct {
	Agents int     `json:"agents"`
	Stages []Stage `json:"stages"`
	// Drops counts agent tunnels lost while the run held them.
	Drops int64 `json:"tunnel_drops"`
}

// Stage is one stage's figures.
type Stage struct {
	Name    string    `json:"name"`
	Seconds float64   `json:"seconds"`
	Ops     []OpStats `json:"ops"`
	Usage   Usage     `json:"usage"`
	// Writes is PostgreSQL's write rate during the stage (from the server's /metrics).
	Writes *Writes `json:"postgres_writes,omitempty"`
	// Note says what the stage did, with its rates.
	Note string `json:"note,omitempty"`
}

func main() {
	var cfg Config
	var output string
	flag.StringVar(&cfg.URL, "url", os.Getenv("HEARTH_URL"), "the deployment (default $HEARTH_URL)")
	flag.StringVar(&cfg.Token, "token", os.Getenv("HEARTH_SESSION_TOKEN"), "a deployment owner's token (default $HEARTH_SESSION_TOKEN)")
	flag.BoolVar(&cfg.Local, "local", false, "start a server for the run: --binary with an embedded PostgreSQL and built-in workers")
	flag.StringVar(&cfg.Binary, "binary", "bin/hearth", "with --local: the hearth binary")
	flag.StringVar(&cfg.Mirror, "provider-mirror", ".cache/terraform-mirror", "with --local: the Terraform provider mirror")
	flag.IntVar(&cfg.Provisioners, "provisioners", 4, "with --local: built-in provisioner workers")
	flag.IntVar(&cfg.Agents, "agents", 100, "users and workspaces to create (one each), with --agents-per-workspace simulated agents each")
	flag.IntVar(&cfg.AgentsPerWorkspace, "agents-per-workspace", 1, "simulated agents in each workspace, 1 to 5")
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long to hold the agents connected")
	flag.DurationVar(&cfg.Interval, "metadata-interval", 10*time.Second, "how often each agent reports its two metadata items")
	flag.IntVar(&cfg.Concurrency, "concurrency", 16, "requests in flight while preparing and cleaning up")
	flag.IntVar(&cfg.DashboardRPS, "dashboard-rps", 0, "dashboard reads per second during the steady stage, as the owner (users/me, workspaces, a workspace, templates, a build log)")
	flag.IntVar(&cfg.TrafficSessions, "traffic-sessions", 0, "workspaces that get an SSH session, a web terminal and app requests during the steady stage (as the owner)")
	flag.DurationVar(&cfg.TrafficInterval, "traffic-interval", time.Second, "how often each traffic session does a round trip")
	flag.IntVar(&cfg.SigninRPS, "signin-rps", 0, "sign-ins a second during the steady stage (each: password sign-in, the user, sign-out)")
	flag.IntVar(&cfg.ChurnWorkspaces, "churn-workspaces", 0, "workspaces stopped and started over and over during the steady stage (the last ones)")
	flag.DurationVar(&cfg.ChurnEvery, "churn-every", 30*time.Second, "how often each churning workspace begins a stop/start cycle (0: back to back); every cycle is two real builds")
	flag.Func("p95", "a threshold of the steady stage, OP=MS (OP may end in *): the run fails when OP's p95 latency is over MS milliseconds (repeatable)", func(v string) error {
		op, ms, ok := strings.Cut(v, "=")
		limit, err := strconv.ParseFloat(ms, 64)
		if !ok || op == "" || err != nil || limit <= 0 {
			return fmt.Errorf("want OP=MS, such as dashboard.*=100")
		}
		if cfg.P95 == nil {
			cfg.P95 = map[string]float64{}
		}
		cfg.P95[op] = limit
		return nil
	})
	flag.BoolVar(&cfg.Tailnet, "tailnet", false, "every simulated agent also coordinates a WireGuard node (keys, an endpoint, a DERP home) with the control plane, as agents do for direct connections")
	flag.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a target that is not on loopback")
	flag.IntVar(&cfg.ServerPID, "server-pid", 0, "the server's process, to report its CPU and memory (automatic with --local)")
	flag.DurationVar(&cfg.Timeout, "timeout", 30*time.Minute, "bound on the whole run")
	flag.StringVar(&output, "output", "", "also write the report as JSON to this file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg, os.Stderr)
	if rep != nil {
		printReport(rep)
		if output != "" {
			raw, _ := json.MarshalIndent(rep, "", "  ")
			if werr := os.WriteFile(output, append(raw, '\n'), 0o600); werr != nil {
				fmt.Fprintln(os.Stderr, "scaletest:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaletest:", err)
		os.Exit(1)
	}
}

// Run runs the scale test and returns its report; the error is the first interruption or failure.
func Run(ctx context.Context, cfg Config, log *os.File) (_ *Report, err error) {
	if cfg.Agents < 1 || cfg.Agents > 10000 {
		return nil, errors.New("--agents must be between 1 and 10000")
	}
	if cfg.AgentsPerWorkspace < 0 || cfg.AgentsPerWorkspace > 5 {
		return nil, errors.New("--agents-per-workspace must be between 1 and 5")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	if cfg.Local {
		srv, err := startLocal(ctx, cfg, logf)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				srv.printLog(log) // the server's directory goes with it
			}
			srv.stop()
		}()
		cfg.URL, cfg.Token, cfg.ServerPID = srv.url, srv.token, srv.pid
	}
	if err := checkTarget(cfg.URL, cfg.AllowRemote); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("no token: --token or HEARTH_SESSION_TOKEN (a deployment owner's), or --local")
	}
	r := &run{cfg: cfg, logf: logf, rec: newRecorder()}
	return r.run(ctx)
}

// checkTarget accepts only loopback hosts unless remote targets are allowed.
func checkTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--url %q is not a URL", raw)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not on loopback: pass --allow-remote to load a real deployment", host)
}

func printReport(r *Report) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(os.Stdout, "\nscale test: %d agents, %d tunnel drops\n", r.Agents, r.Drops)
	for _, s := range r.Stages {
		fmt.Fprintf(os.Stdout, "\n== %s (%.1f s) %s\n", s.Name, s.Seconds, s.Note)
		if s.Usage.ServerRSSMiB > 0 {
			fmt.Fprintf(os.Stdout, "server: %.1f%% CPU, %.1f MiB RSS; PostgreSQL: %.1f%% CPU, %.1f MiB RSS\n",
				s.Usage.ServerCPUPercent, s.Usage.ServerRSSMiB, s.Usage.PostgresCPU, s.Usage.PostgresRSSMiB)
		}
		if wr := s.Writes; wr != nil {
			fmt.Fprintf(os.Stdout, "PostgreSQL writes: %.1f transactions/s, %.1f rows/s; agent metadata %.3f rows/s per agent; most written:", wr.TransactionsPerSec, wr.RowsPerSec, wr.MetadataRowsPerAgentPerSec)
			for _, t := range wr.Top {
				fmt.Fprintf(os.Stdout, " %s %.1f/s", t.Table, t.RowsPerSec)
			}
			fmt.Fprintln(os.Stdout)
		}
		fmt.Fprintln(w, "op\tcount\terrors\tp50 ms\tp90 ms\tp95 ms\tp99 ms\tmax ms\t")
		for _, o := range s.Ops {
			fmt.Fprintf(w, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", o.Op, o.Count, o.Errors, o.P50, o.P90, o.P95, o.P99, o.Max)
		}
		_ = w.Flush()
		for _, o := range s.Ops {
			if o.FirstError != "" {
				fmt.Fprintf(os.Stdout, "  %s first error: %s\n", o.Op, o.FirstError)
			}
		}
	}
}
