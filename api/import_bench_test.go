package api

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// largeTemplate writes a template the size teams write: twenty parameters of every type, an agent
// with metadata, scripts and apps, presets, workspace tags and two registry modules, about 300 lines.
func largeTemplate(tb testing.TB, dir string) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("terraform {\n  required_providers {\n    coder = { source = \"coder/coder\" }\n  }\n}\n\n")
	b.WriteString("data \"coder_workspace\" \"me\" {}\ndata \"coder_workspace_owner\" \"me\" {}\ndata \"coder_provisioner\" \"me\" {}\n\n")
	for i := range 20 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "data \"coder_parameter\" \"p%d\" {\n  name         = \"p%d\"\n  display_name = \"Parameter %d\"\n  description  = \"A string with options.\"\n  default      = \"a\"\n  mutable      = true\n  order        = %d\n  option {\n    name  = \"A\"\n    value = \"a\"\n  }\n  option {\n    name  = \"B\"\n    value = \"b\"\n  }\n}\n\n", i, i, i, i)
		case 1:
			fmt.Fprintf(&b, "data \"coder_parameter\" \"p%d\" {\n  name    = \"p%d\"\n  type    = \"number\"\n  default = 4\n  order   = %d\n  validation {\n    min = 1\n    max = 64\n  }\n}\n\n", i, i, i)
		case 2:
			fmt.Fprintf(&b, "data \"coder_parameter\" \"p%d\" {\n  name    = \"p%d\"\n  type    = \"bool\"\n  default = false\n  order   = %d\n}\n\n", i, i, i)
		default:
			fmt.Fprintf(&b, "data \"coder_parameter\" \"p%d\" {\n  name      = \"p%d\"\n  type      = \"list(string)\"\n  form_type = \"multi-select\"\n  default   = jsonencode([\"x\"])\n  order     = %d\n  option {\n    name  = \"X\"\n    value = \"x\"\n  }\n  option {\n    name  = \"Y\"\n    value = \"y\"\n  }\n}\n\n", i, i, i)
		}
	}
	b.WriteString(`data "coder_workspace_tags" "t" {
  tags = {
    zone = data.coder_parameter.p0.value
  }
}

data "coder_workspace_preset" "small" {
  name = "Small"
  parameters = {
    p1 = "2"
  }
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = data.coder_provisioner.me.arch
  dir  = "/home/${data.coder_workspace_owner.me.name}"
  env = {
    GIT_AUTHOR_NAME = data.coder_workspace_owner.me.name
  }
  metadata {
    key          = "load"
    display_name = "Load"
    script       = "cat /proc/loadavg"
    interval     = 10
  }
  metadata {
    key          = "disk"
    display_name = "Disk"
    script       = "df -h ."
    interval     = 60
  }
}

resource "coder_script" "hello" {
  agent_id     = coder_agent.main.id
  display_name = "Hello"
  run_on_start = true
  script       = "echo hello"
}

module "editor" {
  source   = "registry.coder.com/bench/editor/coder"
  version  = "~> 1.0"
  agent_id = coder_agent.main.id
}

module "tools" {
  source   = "registry.coder.com/bench/tools/coder"
  version  = ">= 2.0.0"
  agent_id = coder_agent.main.id
}

resource "terraform_data" "machine" {
  count = data.coder_workspace.me.start_count
  input = {
    token = coder_agent.main.token
  }
}
`)
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(b.String()), 0o600))
}

// benchModule is a registry module of our own: an app and a script on the agent it is given.
const benchModule = `terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
variable "agent_id" {
  type = string
}
data "coder_parameter" "%[1]s_port" {
  name    = "%[1]s_port"
  type    = "number"
  default = 8080
}
resource "coder_app" "%[1]s" {
  agent_id = var.agent_id
  slug     = "%[1]s"
  url      = "http://localhost:${data.coder_parameter.%[1]s_port.value}"
}
resource "coder_script" "%[1]s" {
  agent_id     = var.agent_id
  display_name = "%[1]s"
  run_on_start = true
  script       = "echo %[1]s"
}
`

// The import of a template with twenty parameters and two registry modules, end to end: from the
// version's creation to its import having succeeded, on one worker (target: at most 1 s).
func BenchmarkImportLargeTemplate(b *testing.B) {
	bb := setup(b)
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	startWorker(b, bb, "w1")
	for _, m := range []struct{ name, version string }{{"editor", "1.4.0"}, {"tools", "2.1.0"}} {
		dir := b.TempDir()
		require.NoError(b, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(fmt.Sprintf(benchModule, m.name)), 0o600))
		file := upload(b, bb, admin, tarDir(b, dir))
		res, v := call(b, "POST", bb.srv.URL+"/api/v2/modules", `{"source":"registry.coder.com/bench/`+m.name+`/coder","version":"`+m.version+`","file_id":"`+file+`"}`, admin...)
		require.Equal(b, http.StatusCreated, res.StatusCode, v)
	}
	dir := b.TempDir()
	largeTemplate(b, dir)
	raw, _ := os.ReadFile(filepath.Join(dir, "main.tf"))
	file := upload(b, bb, admin, tarDir(b, dir))
	// Its only workspace tag comes from a parameter: the import itself is untagged.
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res, v := call(b, "POST", bb.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
		require.Equal(b, http.StatusCreated, res.StatusCode, v)
		v = waitVersion(b, bb, admin, v["id"].(string))
		took = append(took, time.Since(start))
		require.Equal(b, "succeeded", v["status"], v)
		require.Len(b, v["parameters"], 22, "twenty of its own and one from each module")
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[len(took)*95/100].Milliseconds()), "p95-ms")
	b.ReportMetric(float64(strings.Count(string(raw), "\n")), "template-lines")
}
