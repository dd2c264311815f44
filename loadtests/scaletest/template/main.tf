# The scale test's template: agents (one to five per workspace, agents_per_workspace) whose processes
# are simulated by the harness. The build starts nothing; it writes each agent's token to a file in
# token_dir on the provisioner's machine, where the harness (running on the same machine, or next to
# an external provisioner with this template's tags) picks it up. Agents are main, a2, ... a5: the
# provider names an agent after its resource, so several need several resources.
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

variable "agents_per_workspace" {
  description = "Simulated agents in each workspace, 1 to 5."
  type        = number
  default     = 1
  validation {
    condition     = var.agents_per_workspace >= 1 && var.agents_per_workspace <= 5
    error_message = "agents_per_workspace must be from 1 to 5."
  }
}

data "coder_workspace" "me" {}

resource "coder_app" "echo" {
  agent_id     = coder_agent.main.id
  slug         = "echo"
  display_name = "Echo"
  url          = "http://127.0.0.1:8080"
  share        = "authenticated" # the harness opens it as the deployment owner
}

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

resource "terraform_data" "token_main" {
  count = data.coder_workspace.me.start_count
  input = coder_agent.main.token
  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\" && umask 077 && printf %s \"$TOKEN\" > \"$DIR/$FILE\""
    environment = {
      DIR   = var.token_dir
      FILE  = "${data.coder_workspace.me.id}"
      TOKEN = self.input
    }
  }
}

resource "coder_agent" "a2" {
  count              = var.agents_per_workspace >= 2 ? 1 : 0
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

resource "terraform_data" "token_a2" {
  count = var.agents_per_workspace >= 2 ? data.coder_workspace.me.start_count : 0
  input = coder_agent.a2[0].token
  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\" && umask 077 && printf %s \"$TOKEN\" > \"$DIR/$FILE\""
    environment = {
      DIR   = var.token_dir
      FILE  = "${data.coder_workspace.me.id}-2"
      TOKEN = self.input
    }
  }
}

resource "coder_agent" "a3" {
  count              = var.agents_per_workspace >= 3 ? 1 : 0
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

resource "terraform_data" "token_a3" {
  count = var.agents_per_workspace >= 3 ? data.coder_workspace.me.start_count : 0
  input = coder_agent.a3[0].token
  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\" && umask 077 && printf %s \"$TOKEN\" > \"$DIR/$FILE\""
    environment = {
      DIR   = var.token_dir
      FILE  = "${data.coder_workspace.me.id}-3"
      TOKEN = self.input
    }
  }
}

resource "coder_agent" "a4" {
  count              = var.agents_per_workspace >= 4 ? 1 : 0
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

resource "terraform_data" "token_a4" {
  count = var.agents_per_workspace >= 4 ? data.coder_workspace.me.start_count : 0
  input = coder_agent.a4[0].token
  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\" && umask 077 && printf %s \"$TOKEN\" > \"$DIR/$FILE\""
    environment = {
      DIR   = var.token_dir
      FILE  = "${data.coder_workspace.me.id}-4"
      TOKEN = self.input
    }
  }
}

resource "coder_agent" "a5" {
  count              = var.agents_per_workspace >= 5 ? 1 : 0
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

resource "terraform_data" "token_a5" {
  count = var.agents_per_workspace >= 5 ? data.coder_workspace.me.start_count : 0
  input = coder_agent.a5[0].token
  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\" && umask 077 && printf %s \"$TOKEN\" > \"$DIR/$FILE\""
    environment = {
      DIR   = var.token_dir
      FILE  = "${data.coder_workspace.me.id}-5"
      TOKEN = self.input
    }
  }
}
