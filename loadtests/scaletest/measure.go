package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// recorder collects latencies and errors by operation.
type recorder struct {
	mu     sync.Mutex
	times  map[string][]time.Duration
	errors map[string]int
	// firstErr keeps one error message per operation, for the report.
	firstErr map[string]string
}

func newRecorder() *recorder {
	return &recorder{times: map[string][]time.Duration{}, errors: map[string]int{}, firstErr: map[string]string{}}
}

// errCut is an operation the stage's end cut short: time records neither a duration nor an error.
var errCut = errors.New("cut short by the end of the stage")

// cut is errCut when ctx has ended, else err.
func cut(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errCut
	}
	return err
}

// time runs f and records its duration, or its error.
func (r *recorder) time(op string, f func() error) error {
	start := time.Now()
	err := f()
	d := time.Since(start)
	if errors.Is(err, errCut) {
		return err
	}
	if err != nil {
		r.fail(op, err)
		return err
	}
	r.mu.Lock()
	r.times[op] = append(r.times[op], d)
	r.mu.Unlock()
	return nil
}

func (r *recorder) fail(op string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[op]++
	if _, ok := r.firstErr[op]; !ok && err != nil {
		r.firstErr[op] = err.Error()
	}
}

// take returns the stats of everything recorded since the last take, and starts afresh.
func (r *recorder) take() []OpStats {
	r.mu.Lock()
	times, errs, first := r.times, r.errors, r.firstErr
	r.times, r.errors, r.firstErr = map[string][]time.Duration{}, map[string]int{}, map[string]string{}
	r.mu.Unlock()
	var ops []string
	for op := range times {
		ops = append(ops, op)
	}
	for op := range errs {
		if _, ok := times[op]; !ok {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	out := make([]OpStats, 0, len(ops))
	for _, op := range ops {
		ts := times[op]
		slices.Sort(ts)
		s := OpStats{Op: op, Count: len(ts), Errors: errs[op], FirstError: first[op]}
		if len(ts) > 0 {
			q := func(p float64) float64 { return ms(ts[min(len(ts)-1, int(p*float64(len(ts))))]) }
			s.P50, s.P90, s.P95, s.P99, s.Max = q(0.50), q(0.90), q(0.95), q(0.99), ms(ts[len(ts)-1])
		}
		out = append(out, s)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// OpStats are one operation's figures in a stage, in milliseconds.
type OpStats struct {
	Op         string  `json:"op"`
	Count      int     `json:"count"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P95        float64 `json:"p95_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
}

// procStat is the CPU time and resident memory of a process tree, split into the server itself and
// PostgreSQL (its embedded cluster's processes, or any postgres under the tree).
type procStat struct {
	at                 time.Time
	serverCPU, pgCPU   time.Duration
	serverRSS, pgRSS   int64 // bytes; pgRSS sums its processes' (shared buffers counted more than once)
	serverOK, pgSeenOK bool
}

// clockTick is USER_HZ, 100 on Linux.
const clockTick = 100

// sampleTree reads /proc for pid and every process under it.
func sampleTree(pid int) procStat {
	s := procStat{at: time.Now()}
	if pid == 0 {
		return s
	}
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	stats := map[int][]string{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := readStat(p)
		if f == nil {
			continue
		}
		stats[p] = f
		parent[p], _ = strconv.Atoi(f[1])
	}
	under := func(p int) bool {
		for i := 0; p > 1 && i < 64; i++ {
			if p == pid {
				return true
			}
			p = parent[p]
		}
		return false
	}
	for p, f := range stats {
		if !under(p) {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		rss, _ := strconv.ParseInt(f[21], 10, 64)
		cpu := time.Duration(ut+st) * time.Second / clockTick
		mem := rss * int64(os.Getpagesize())
		switch {
		case p == pid:
			s.serverCPU, s.serverRSS, s.serverOK = cpu, mem, true
		case f[0] == "postgres":
			s.pgCPU += cpu
			s.pgRSS += mem
			s.pgSeenOK = true
		}
	}
	return s
}

// readStat returns /proc/PID/stat's fields after the command name: [comm, ppid, ...] with the
// fields numbered from state as 1 in the list below (utime is index 11, stime 12, rss 21).
func readStat(pid int) []string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return nil
	}
	rest := strings.Fields(s[end+1:]) // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	if len(rest) < 22 {
		return nil
	}
	// [comm, ppid, pgrp, session, tty, tpgid, flags, minflt, cminflt, majflt, cmajflt, utime, stime, ... rss at 21]
	return append([]string{s[open+1 : end]}, rest[1:]...)
}

// Usage is a process tree's use over a stage.
type Usage struct {
	ServerCPUPercent float64 `json:"server_cpu_percent"` // of one core
	ServerRSSMiB     float64 `json:"server_rss_mib"`
	PostgresCPU      float64 `json:"postgres_cpu_percent,omitempty"`
	PostgresRSSMiB   float64 `json:"postgres_rss_mib,omitempty"`
}

func usage(a, b procStat) Usage {
	wall := b.at.Sub(a.at).Seconds()
	if !a.serverOK || !b.serverOK || wall <= 0 {
		return Usage{}
	}
	u := Usage{ServerCPUPercent: round1(100 * (b.serverCPU - a.serverCPU).Seconds() / wall), ServerRSSMiB: round1(float64(b.serverRSS) / (1 << 20))}
	if b.pgSeenOK {
		u.PostgresCPU = round1(100 * (b.pgCPU - a.pgCPU).Seconds() / wall)
		u.PostgresRSSMiB = round1(float64(b.pgRSS) / (1 << 20))
	}
	return u
}

func round1(f float64) float64 { v, _ := strconv.ParseFloat(fmt.Sprintf("%.1f", f), 64); return v }

// dbCounters are PostgreSQL's write counters as the server exports them on /metrics.
type dbCounters struct {
	at    time.Time
	ok    bool
	tx    float64
	rows  float64            // all tables
	table map[string]float64 // by table
}

// scrapeDB reads the server's database counters (hearth_postgres_*); ok is false when it cannot.
func scrapeDB(ctx context.Context, baseURL string) dbCounters {
	c := dbCounters{at: time.Now(), table: map[string]float64{}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+"/metrics", nil)
	if err != nil {
		return c
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return c
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, " ")
		value, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "hearth_postgres_transactions_total":
			c.tx, c.ok = value, true
		case strings.HasPrefix(name, `hearth_postgres_rows_written_total{table="`):
			t := strings.TrimSuffix(strings.TrimPrefix(name, `hearth_postgres_rows_written_total{table="`), `"}`)
			c.table[t] = value
			c.rows += value
		}
	}
	return c
}

// Writes is the database's write rate over a stage.
type Writes struct {
	TransactionsPerSec float64 `json:"transactions_per_sec"`
	RowsPerSec         float64 `json:"rows_written_per_sec"`
	// MetadataRowsPerAgentPerSec is the agent metadata table's share, per agent.
	MetadataRowsPerAgentPerSec float64 `json:"metadata_rows_per_agent_per_sec"`
	// Top lists the tables written most, with their rows per second.
	Top []TableWrites `json:"top,omitempty"`
}

// TableWrites is one table's write rate.
type TableWrites struct {
	Table      string  `json:"table"`
	RowsPerSec float64 `json:"rows_per_sec"`
}

func writes(a, b dbCounters, agents int) *Writes {
	secs := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || secs <= 0 {
		return nil
	}
	w := &Writes{TransactionsPerSec: round1((b.tx - a.tx) / secs), RowsPerSec: round1((b.rows - a.rows) / secs)}
	if agents > 0 {
		w.MetadataRowsPerAgentPerSec = round3((b.table["workspace_agent_metadata"] - a.table["workspace_agent_metadata"]) / secs / float64(agents))
	}
	for t, n := range b.table {
		if rate := (n - a.table[t]) / secs; rate >= 0.1 {
			w.Top = append(w.Top, TableWrites{Table: t, RowsPerSec: round1(rate)})
		}
	}
	slices.SortFunc(w.Top, func(x, y TableWrites) int { return cmp.Compare(y.RowsPerSec, x.RowsPerSec) })
	w.Top = w.Top[:min(len(w.Top), 5)]
	return w
}

func round3(f float64) float64 { v, _ := strconv.ParseFloat(fmt.Sprintf("%.3f", f), 64); return v }
