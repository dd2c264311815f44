# A template as Coder users write them, with only the coder/coder provider and Terraform built-ins:
# it must import and build on Hearth unchanged.
terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = ">= 2.0.0"
    }
  }
}

provider "coder" {}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "cpu" {
  name         = "cpu"
  display_name = "CPU"
  description  = "The number of CPU cores"
  type         = "number"
  default      = "2"
  icon         = "/icon/memory.svg"
  mutable      = true
  validation {
    min = 1
    max = 16
  }
}

data "coder_parameter" "dotfiles" {
  name        = "dotfiles_uri"
  type        = "string"
  default     = ""
  description = "Dotfiles repository"
  mutable     = true
  validation {
    regex = "^(https://.*)?$"
    error = "Use an https:// URL."
  }
}

data "coder_parameter" "gpu" {
  name    = "gpu"
  type    = "bool"
  default = "false"
}

data "coder_parameter" "ides" {
  name    = "ides"
  type    = "list(string)"
  default = jsonencode(["vscode"])
  mutable = true
}

data "coder_parameter" "reset" {
  name      = "reset"
  type      = "bool"
  default   = "false"
  mutable   = true
  ephemeral = true
}

resource "coder_agent" "dev" {
  arch                    = data.coder_provisioner.me.arch
  os                      = "linux"
  dir                     = "/home/${data.coder_workspace_owner.me.name}"
  startup_script_behavior = "blocking"
  startup_script          = <<-EOT
    set -e
    echo "starting ${data.coder_workspace.me.name}"
  EOT
  shutdown_script         = "echo bye"
  connection_timeout      = 300
  troubleshooting_url     = "https://example.com/help"
  motd_file               = "/etc/motd"

  env = {
    GIT_AUTHOR_NAME  = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
    GIT_AUTHOR_EMAIL = data.coder_workspace_owner.me.email
  }

  metadata {
    display_name = "CPU Usage"
    key          = "0_cpu_usage"
    script       = "coder stat cpu"
    interval     = 10
    timeout      = 1
  }

  metadata {
    display_name = "Home Disk"
    key          = "3_home_disk"
    script       = "coder stat disk --path $${HOME}"
    interval     = 60
    timeout      = 1
  }

  display_apps {
    vscode                 = true
    web_terminal           = false
    ssh_helper             = true
    port_forwarding_helper = false
    vscode_insiders        = false
  }
  order = 3
}

resource "coder_env" "editor" {
  agent_id = coder_agent.dev.id
  name     = "EDITOR"
  value    = "vim"
}

resource "coder_script" "dotfiles" {
  agent_id           = coder_agent.dev.id
  display_name       = "Dotfiles"
  icon               = "/icon/dotfiles.svg"
  run_on_start       = true
  start_blocks_login = true
  timeout            = 300
  script             = "echo ${data.coder_parameter.dotfiles.value}"
}

resource "coder_script" "backup" {
  agent_id     = coder_agent.dev.id
  display_name = "Backup"
  cron         = "0 0 22 * * *"
  script       = "echo backup"
}

resource "coder_app" "code-server" {
  agent_id     = coder_agent.dev.id
  slug         = "code-server"
  display_name = "code-server"
  url          = "http://localhost:13337/?folder=/home/${data.coder_workspace_owner.me.name}"
  icon         = "/icon/code.svg"
  subdomain    = false
  share        = "owner"

  healthcheck {
    url       = "http://localhost:13337/healthz"
    interval  = 5
    threshold = 6
  }
}

resource "coder_app" "docs" {
  agent_id     = coder_agent.dev.id
  slug         = "docs"
  display_name = "Docs"
  group        = "Help"
  open_in      = "slim-window"
  tooltip      = "The team's documentation"
  order        = 2
  url          = "https://example.com/docs"
  external     = true
}

# The workspace's machine; a real template would have a container or VM here.
resource "terraform_data" "machine" {
  count = data.coder_workspace.me.start_count
  input = {
    token = coder_agent.dev.token
    init  = coder_agent.dev.init_script
    cpu   = data.coder_parameter.cpu.value
    gpu   = data.coder_parameter.gpu.value
    ides  = data.coder_parameter.ides.value
  }
}

resource "coder_metadata" "machine" {
  count       = data.coder_workspace.me.start_count
  resource_id = terraform_data.machine[0].id
  icon        = "/icon/memory.svg"
  daily_cost  = 10
  item {
    key   = "cpu"
    value = data.coder_parameter.cpu.value
  }
  item {
    key       = "secret"
    value     = "hidden"
    sensitive = true
  }
}
