package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hearthdev/hearth/client"
)

// resourcesInterval is how often the agent measures what the template's resources_monitoring
// watches, and reports it.
const resourcesInterval = 15 * time.Second

// resourcesLoop reports memory and volume use, when the template watches any, at once and then every
// resourcesInterval.
func (a *agent) resourcesLoop(ctx context.Context) {
	m := a.manifest.ResourcesMonitoring
	watchMemory := m.Memory != nil && m.Memory.Enabled
	var volumes []client.ProvisionerVolumeThreshold
	if m.Volumes != nil {
		for _, v := range *m.Volumes {
			if v.Enabled {
				volumes = append(volumes, v)
			}
		}
	}
	if !watchMemory && len(volumes) == 0 {
		return
	}
	t := time.NewTicker(resourcesInterval)
	defer t.Stop()
	for {
		var body client.WorkspaceResourcesUsage
		if watchMemory {
			if used, total, err := memoryUse(); err == nil {
				body.Memory = &client.WorkspaceUsage{UsedBytes: used, TotalBytes: total}
			}
		}
		vols := []client.WorkspaceVolumeUsage{}
		for _, v := range volumes {
			u := client.WorkspaceVolumeUsage{Path: v.Path}
			if used, total, err := volumeUse(expandDir(v.Path)); err != nil {
				msg := err.Error()
				u.Error = &msg
			} else {
				u.UsedBytes, u.TotalBytes = used, total
			}
			vols = append(vols, u)
		}
		if len(vols) > 0 {
			body.Volumes = &vols
		}
		res, err := a.api.ReportWorkspaceAgentResourcesWithResponse(ctx, &client.ReportWorkspaceAgentResourcesParams{}, body)
		if err == nil {
			err = client.Check(res.HTTPResponse, res.Body)
		}
		if err != nil && ctx.Err() == nil {
			a.cfg.Logger.Warn("agent: reporting resource use failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// memoryUse reads the machine's (or container's view of) memory from /proc/meminfo: used is total
// less available.
func memoryUse() (used, total int64, err error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = f.Close() }()
	var available int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = kb * 1024
		case "MemAvailable:":
			available = kb * 1024
		}
	}
	if total == 0 || available < 0 {
		return 0, 0, fmt.Errorf("/proc/meminfo has no MemTotal or MemAvailable")
	}
	return total - available, total, nil
}

// volumeUse is the use of the file system path is on.
func volumeUse(path string) (used, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	// Bsize is an int64 on Linux and a uint32 on macOS.
	total = int64(st.Blocks * uint64(st.Bsize)) //nolint:gosec // sizes of real volumes fit
	free := int64(st.Bavail * uint64(st.Bsize)) //nolint:gosec // sizes of real volumes fit
	return total - free, total, nil
}
