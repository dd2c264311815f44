# A workspace as a local process tree on the provisioner's machine: no containers, no cloud, only the
# coder provider. Each workspace gets a directory; starting it runs the agent there, stopping it ends
# the agent. Good for trying Hearth out, and for CI.
terraform {
  required_version = ">= 1.4"
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "~> 2.20"
    }
  }
}

variable "workspaces_dir" {
  description = "Where workspace directories are made, on the provisioner's machine."
  type        = string
  default     = "/tmp/hearth-workspaces"
}

variable "agent_url" {
  description = "Where the agent connects: empty for the server itself, or a workspace proxy's URL (hearth proxy) near the workspaces."
  type        = string
  default     = ""
}

variable "files_share" {
  description = "Who may open a workspace's Files app: owner, authenticated (anyone signed in) or public. Shared apps open on their own host (hearth server --wildcard-access-url)."
  type        = string
  default     = "owner"
  validation {
    condition     = contains(["owner", "authenticated", "public"], var.files_share)
    error_message = "files_share must be owner, authenticated or public."
  }
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "shell" {
  name         = "shell"
  display_name = "Shell"
  description  = "The shell the terminal opens."
  type         = "string"
  default      = "bash"
  mutable      = true
  order        = 1
  option {
    name  = "Bash"
    value = "bash"
  }
  option {
    name  = "POSIX sh"
    value = "sh"
  }
}

data "coder_parameter" "history_lines" {
  name         = "history_lines"
  display_name = "Shell history"
  description  = "How many lines of shell history to keep."
  type         = "number"
  default      = 1000
  mutable      = true
  order        = 2
  validation {
    min = 0
    max = 100000
  }
}

# A preset: a named set of parameter values to create a workspace with (hearth create --preset).
data "coder_workspace_preset" "minimal" {
  name        = "Minimal"
  description = "POSIX sh with a short history"
  parameters = {
    (data.coder_parameter.shell.name)         = "sh"
    (data.coder_parameter.history_lines.name) = "100"
  }
}

locals {
  home = "${var.workspaces_dir}/${data.coder_workspace_owner.me.name}/${data.coder_workspace.me.name}"
  # Workspaces of this template share the machine's network: each gets its own port for the Files app.
  files_port = 20000 + parseint(substr(md5(data.coder_workspace.me.id), 0, 4), 16) % 10000
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = data.coder_provisioner.me.arch
  dir  = local.home
  env = {
    SHELL               = data.coder_parameter.shell.value
    HISTSIZE            = data.coder_parameter.history_lines.value
    GIT_AUTHOR_NAME     = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
    GIT_AUTHOR_EMAIL    = data.coder_workspace_owner.me.email
    GIT_COMMITTER_NAME  = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
    GIT_COMMITTER_EMAIL = data.coder_workspace_owner.me.email
  }
  startup_script = "echo workspace ready in $PWD"

  # Memory, and the disk the home directory is on, shown on the workspace page; 90% used is an alert.
  resources_monitoring {
    memory {
      enabled   = true
      threshold = 90
    }
    volume {
      path      = local.home
      enabled   = true
      threshold = 90
    }
  }

  metadata {
    key          = "load"
    display_name = "Load average"
    script       = "cut -d' ' -f1 /proc/loadavg"
    interval     = 10
    timeout      = 1
  }
}

resource "coder_app" "files" {
  agent_id     = coder_agent.main.id
  slug         = "files"
  display_name = "Files"
  url          = "http://127.0.0.1:${local.files_port}"
  share        = var.files_share
  healthcheck {
    url       = "http://127.0.0.1:${local.files_port}"
    interval  = 10
    threshold = 6
  }
}

# The Files app: the home directory over HTTP (when python3 is installed), stopped with the workspace.
resource "coder_script" "files" {
  agent_id     = coder_agent.main.id
  display_name = "Files"
  run_on_start = true
  script       = <<-EOT
    if ! command -v python3 >/dev/null; then
      echo "python3 is not installed: the Files app stays down"
      exit 0
    fi
    setsid nohup python3 -m http.server ${local.files_port} --bind 127.0.0.1 >.files.log 2>&1 &
    echo $! >.files.pid
    echo "Files app on port ${local.files_port}"
  EOT
}

resource "coder_script" "files_stop" {
  agent_id     = coder_agent.main.id
  display_name = "Files (stop)"
  run_on_stop  = true
  script       = "test -f .files.pid && kill $(cat .files.pid) 2>/dev/null; rm -f .files.pid"
}

# The home directory: made with the workspace, kept while it is stopped, removed when it is deleted.
resource "terraform_data" "home" {
  input = local.home

  provisioner "local-exec" {
    command = "mkdir -p \"$HOME_DIR\""
    environment = {
      HOME_DIR = self.input
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "rm -rf \"$HOME_DIR\""
    environment = {
      HOME_DIR = self.input
    }
  }
}

# The running workspace: while started (start_count is 1), the agent runs in the home directory, in
# a session of its own so that it outlives the Terraform run that started it. Stopping ends it: TERM,
# then KILL if it has not exited within ten seconds.
resource "terraform_data" "agent" {
  count            = data.coder_workspace.me.start_count
  depends_on       = [terraform_data.home]
  triggers_replace = [coder_agent.main.id]
  input = {
    home = local.home
  }

  provisioner "local-exec" {
    command = <<-EOT
      mkdir -p "$HOME_DIR/.hearth"
      cd "$HOME_DIR"
      # The provisioner's TMPDIR is its job directory, gone after the build: the workspace uses /tmp.
      # The workspace is its directory: the agent stops once the directory is gone.
      TMPDIR=/tmp HOME="$HOME_DIR" HEARTH_AGENT_BINARY_DIR="$HOME_DIR/.hearth" HEARTH_AGENT_EXIT_WITH_DIR="$HOME_DIR" setsid nohup sh -c "$INIT" </dev/null >"$HOME_DIR/.hearth/agent.log" 2>&1 &
      echo $! >"$HOME_DIR/.hearth/agent.pid"
    EOT
    environment = {
      HOME_DIR          = self.input.home
      INIT              = coder_agent.main.init_script
      CODER_AGENT_TOKEN = coder_agent.main.token
      # The agent prefers HEARTH_AGENT_URL to the server's URL in its init script; empty is unset.
      HEARTH_AGENT_URL = var.agent_url
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = <<-EOT
      pidfile="$HOME_DIR/.hearth/agent.pid"
      [ -f "$pidfile" ] || exit 0
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      i=0
      # Wait for it to exit (a zombie waiting to be reaped has exited).
      while s=$(ps -o stat= -p "$pid" 2>/dev/null) && [ "$${s#Z}" = "$s" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    EOT
    environment = {
      HOME_DIR = self.input.home
    }
  }
}
