package hearth_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The components that run outside the control plane talk to it only through the generated client:
// they must not link the database driver, the job queue, the HTTP framework or the data layer. The
// agent's own binary (cmd/hearth-agent), which every workspace downloads, links none of them either,
// and neither does the tailnet, which the agent, the CLI and the server share.
func TestOutsideComponentsDoNotImportTheControlPlane(t *testing.T) {
	t.Parallel()
	forbidden := []string{
		"github.com/jackc/pgx",
		"github.com/riverqueue/river",
		"github.com/danielgtaylor/huma",
		"github.com/hearthdev/hearth/internal/db",
		"github.com/hearthdev/hearth/api",
		"github.com/hearthdev/hearth/jobs",
	}
	for _, pkgs := range []string{"./agent/...", "./cmd/hearth-agent", "./proxy/...", "./provisioner-worker/...", "./client/...", "./internal/tailnet/..."} {
		out, err := exec.Command("go", "list", "-deps", pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s imports %s", pkgs, dep)
				}
			}
		}
	}
}
