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

locals {
  dir = "${var.workspaces_dir}/${data.coder_workspace_owner.me.name}-${data.coder_workspace.me.name}"
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = data.coder_provisioner.me.arch
  dir  = local.dir
  env = {
    SHELL    = data.coder_parameter.shell.value
    HISTSIZE = data.coder_parameter.history_lines.value
  }
  startup_script = "echo workspace ready in $PWD"
}

resource "coder_app" "files" {
  agent_id     = coder_agent.main.id
  slug         = "files"
  display_name = "Files"
  url          = "http://localhost:8000"
  share        = "owner"
}

# The workspace itself: while started (start_count is 1), a directory with the agent running in it.
resource "terraform_data" "workspace" {
  count            = data.coder_workspace.me.start_count
  triggers_replace = [coder_agent.main.id]
  input = {
    dir = local.dir
  }

  provisioner "local-exec" {
    command = <<-EOT
      mkdir -p "$DIR" && cd "$DIR"
      nohup sh -c "$INIT" >agent.log 2>&1 &
      echo $! >agent.pid
    EOT
    environment = {
      DIR               = self.input.dir
      INIT              = coder_agent.main.init_script
      CODER_AGENT_TOKEN = coder_agent.main.token
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "if [ -f \"$DIR/agent.pid\" ]; then kill \"$(cat \"$DIR/agent.pid\")\" 2>/dev/null || true; rm -f \"$DIR/agent.pid\"; fi"
    environment = {
      DIR = self.input.dir
    }
  }
}
