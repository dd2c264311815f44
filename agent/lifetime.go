package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"
)

// ExitWithDirEnv names a directory the agent stops with (running its shutdown scripts) once it is
// gone: for a workspace that is a directory, as the local template's.
const ExitWithDirEnv = "HEARTH_AGENT_EXIT_WITH_DIR"

// untilGone is ctx, ended once dir no longer exists (looked at every 2 s).
func untilGone(ctx context.Context, dir string, log *slog.Logger) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				log.Info("agent: the workspace's directory is gone; stopping", "dir", dir)
				cancel()
				return
			}
		}
	}()
	return ctx
}
