package codercmd

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A measurement is what one `coder stat` prints: used of total, in a unit.
type measurement struct {
	Used  float64  `json:"used"`
	Total *float64 `json:"total"`
	Unit  string   `json:"unit"`
	// prefix scales Used and Total in the text form (Ki, Mi, Gi, Ti); JSON keeps raw numbers.
	prefix string
}

var prefixes = map[string]float64{"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}

// String is Coder's text form: "used/total unit (percent%)", e.g. "0.25/2 cores (12%)" or
// "1.5/7.8 GiB (19%)"; numbers have at most three significant digits.
func (m measurement) String() string {
	scale := prefixes[m.prefix]
	var b strings.Builder
	b.WriteString(humanize(m.Used / scale))
	if m.Total != nil {
		b.WriteString("/" + humanize(*m.Total/scale))
	}
	b.WriteString(" " + m.prefix + m.Unit)
	if m.Total != nil && *m.Total > 0 {
		fmt.Fprintf(&b, " (%.0f%%)", m.Used / *m.Total * 100)
	}
	return b.String()
}

// humanize prints f with at most three significant digits and no trailing zeros.
func humanize(f float64) string {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return "0"
	}
	digits := 2 - int(math.Floor(math.Log10(math.Abs(f))))
	if digits < 0 {
		digits = 0
	}
	s := strconv.FormatFloat(f, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// sys is where the measurements read from: the root of /proc and /sys (a test points it elsewhere)
// and how long a CPU sample lasts.
type sys struct {
	root   string
	sample time.Duration
}

func (s sys) path(p string) string { return filepath.Join(s.root, p) }

func (s sys) exists(p string) bool {
	_, err := os.Stat(s.path(p))
	return err == nil
}

func (s sys) readInt(p string) (int64, error) {
	b, err := os.ReadFile(s.path(p))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// cgroup says which cgroup version limits this process, when it runs in a container: 2 or 1, or 0
// on a host (where the host's figures are the workspace's).
func (s sys) cgroup() int {
	inContainer := s.exists("/.dockerenv") || s.exists("/run/.containerenv") || os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	// A cgroup v2 root with cpu.max is a container's own namespace; the host's root has none.
	if s.exists("/sys/fs/cgroup/cpu.max") || (inContainer && s.exists("/sys/fs/cgroup/cgroup.controllers")) {
		return 2
	}
	if inContainer && s.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") {
		return 1
	}
	return 0
}

// hostCPUs is the number of CPUs the host has.
func (s sys) hostCPUs() float64 {
	f, err := os.Open(s.path("/proc/stat"))
	if err != nil {
		return float64(runtime.NumCPU())
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	if n == 0 {
		return float64(runtime.NumCPU())
	}
	return float64(n)
}

// hostCPUTimes are the busy and total jiffies of all CPUs, from /proc/stat's first line.
func (s sys) hostCPUTimes() (busy, total float64, err error) {
	f, err := os.Open(s.path("/proc/stat"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, errors.New("/proc/stat is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat has no cpu line")
	}
	for i, v := range fields[1:] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += n
		if i != 3 && i != 4 { // idle and iowait
			busy += n
		}
	}
	return busy, total, nil
}

// cpu measures CPU use in cores over the sample.
func (s sys) cpu(host bool) (measurement, error) {
	cg := 0
	if !host {
		cg = s.cgroup()
	}
	hostCores := s.hostCPUs()
	if cg == 0 {
		b0, t0, err := s.hostCPUTimes()
		if err != nil {
			return measurement{}, err
		}
		time.Sleep(s.sample)
		b1, t1, err := s.hostCPUTimes()
		if err != nil {
			return measurement{}, err
		}
		used := 0.0
		if t1 > t0 {
			used = (b1 - b0) / (t1 - t0) * hostCores
		}
		return measurement{Used: used, Total: &hostCores, Unit: "cores"}, nil
	}
	usage := func() (time.Duration, error) { // the cgroup's CPU time so far
		if cg == 2 {
			v, err := s.keyed("/sys/fs/cgroup/cpu.stat", "usage_usec")
			return time.Duration(v) * time.Microsecond, err
		}
		v, err := s.readInt("/sys/fs/cgroup/cpuacct/cpuacct.usage")
		return time.Duration(v), err
	}
	u0, err := usage()
	if err != nil {
		return measurement{}, err
	}
	start := time.Now()
	time.Sleep(s.sample)
	u1, err := usage()
	if err != nil {
		return measurement{}, err
	}
	used := float64(u1-u0) / float64(time.Since(start))
	total := hostCores
	if limit, ok := s.cpuLimit(cg); ok {
		total = limit
	}
	return measurement{Used: used, Total: &total, Unit: "cores"}, nil
}

// cpuLimit is the container's CPU quota in cores, when it has one.
func (s sys) cpuLimit(cg int) (float64, bool) {
	if cg == 2 {
		b, err := os.ReadFile(s.path("/sys/fs/cgroup/cpu.max"))
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) != 2 || f[0] == "max" {
			return 0, false
		}
		quota, err1 := strconv.ParseFloat(f[0], 64)
		period, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil || period <= 0 {
			return 0, false
		}
		return quota / period, true
	}
	quota, err1 := s.readInt("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
	period, err2 := s.readInt("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0, false
	}
	return float64(quota) / float64(period), true
}

// keyed reads the value of key from a file of "key value" lines (cpu.stat, memory.stat, meminfo).
func (s sys) keyed(p, key string) (int64, error) {
	f, err := os.Open(s.path(p))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && strings.TrimSuffix(fields[0], ":") == key {
			return strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no %s", p, key)
}

// hostMemory is the host's memory in use (total less available) and its total, in bytes.
func (s sys) hostMemory() (used, total float64, err error) {
	t, err := s.keyed("/proc/meminfo", "MemTotal")
	if err != nil {
		return 0, 0, err
	}
	a, err := s.keyed("/proc/meminfo", "MemAvailable")
	if err != nil {
		return 0, 0, err
	}
	return float64(t-a) * 1024, float64(t) * 1024, nil
}

// mem measures memory in use, in bytes: the container's (less its inactive page cache, as the
// kernel would reclaim it) against its limit, or the host's.
func (s sys) mem(host bool, prefix string) (measurement, error) {
	hostUsed, hostTotal, err := s.hostMemory()
	if err != nil {
		return measurement{}, err
	}
	cg := 0
	if !host {
		cg = s.cgroup()
	}
	if cg == 0 {
		return measurement{Used: hostUsed, Total: &hostTotal, Unit: "B", prefix: prefix}, nil
	}
	var usage, inactive, limit int64
	if cg == 2 {
		usage, err = s.readInt("/sys/fs/cgroup/memory.current")
		inactive, _ = s.keyed("/sys/fs/cgroup/memory.stat", "inactive_file")
		if b, e := os.ReadFile(s.path("/sys/fs/cgroup/memory.max")); e == nil {
			limit, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64) // "max": no limit
		}
	} else {
		usage, err = s.readInt("/sys/fs/cgroup/memory/memory.usage_in_bytes")
		inactive, _ = s.keyed("/sys/fs/cgroup/memory/memory.stat", "total_inactive_file")
		limit, _ = s.readInt("/sys/fs/cgroup/memory/memory.limit_in_bytes")
	}
	if err != nil {
		return measurement{}, err
	}
	used := float64(max(usage-inactive, 0))
	total := hostTotal
	if limit > 0 && float64(limit) < hostTotal { // v1's "no limit" is a huge number
		total = float64(limit)
	}
	return measurement{Used: used, Total: &total, Unit: "B", prefix: prefix}, nil
}

// disk measures the space used on the file system holding path, in bytes.
func disk(path, prefix string) (measurement, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return measurement{}, fmt.Errorf("disk usage of %s: %w", path, err)
	}
	total := float64(st.Blocks) * float64(st.Bsize)
	used := float64(st.Blocks-st.Bfree) * float64(st.Bsize)
	return measurement{Used: used, Total: &total, Unit: "B", prefix: prefix}, nil
}

func userHome() (string, error) { return os.UserHomeDir() }
