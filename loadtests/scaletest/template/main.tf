# The scale test's template: one agent per workspace whose process is simulated by the harness. The
# build starts nothing; it writes the agent's token to a file in token_dir on the provisioner's
# machine, where the harness (running on the same machine, or next to an external provisioner with
# this template's tags) picks it up.
terraform {
  required_version = ">= 1.4"
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "~> 2.20"
    }
  }
}

variable "token_dir" {
  description = "Where the harness reads agent tokens from."
  type        = string
}

data "coder_workspace" "me" {}

resource "coder_agent" "main" {
  os                 = "linux"
  arch               = "amd64"
  connection_timeout = 120
  # Two metadata items every 10 s, as in the reference architecture's sizing.
  metadata {
    key          = "load"
    display_name = "Load"
    script       = "cat /proc/loadavg"
    interval     = 10
    timeout      = 1
  }
  metadata {
    key          = "mem"
    display_name = "Memory"
    script       = "free -m | awk 'NR==2{print $3}'"
    interval     = 10
    timeout      = 1
  }
}

resource "coder_app" "echo" {
  agent_id     = coder_agent.main.id
  slug         = "echo"
  display_name = "Echo"
  url          = "http://127.0.0.1:8080"
  share        = "authenticated" # the harness opens it as the deployment owner
}

resource "terraform_data" "token" {
  count = data.coder_workspace.me.start_count
  input = coder_agent.main.token
  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\" && umask 077 && printf %s \"$TOKEN\" > \"$DIR/$WORKSPACE\""
    environment = {
      DIR       = var.token_dir
      WORKSPACE = data.coder_workspace.me.id
      TOKEN     = self.input
    }
  }
}
