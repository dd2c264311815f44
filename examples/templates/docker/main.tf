# A workspace as a Docker container on the provisioner's Docker host, with the home directory on a
# volume that survives stops. Needs the kreuzwerker/docker provider (`go tool task providers` puts it
# in the mirror) and a Docker engine with the image (`go tool task workspace-image` builds one).
terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "~> 2.20"
    }
    docker = {
      source  = "kreuzwerker/docker"
      version = "~> 4.0"
    }
  }
}

variable "docker_host" {
  description = "The Docker engine to run workspaces on."
  type        = string
  default     = "unix:///var/run/docker.sock"
}

variable "image" {
  description = "The image workspaces run: any with a non-root user coder (home /home/coder) and curl or wget. The default is built by go tool task workspace-image."
  type        = string
  default     = "hearth-workspace:bookworm"
}

variable "network_mode" {
  description = "bridge: Docker's default network; the container reaches Hearth at host.docker.internal. host: the container shares the Docker host's network and reaches Hearth where the host does (for hosts without a bridge network)."
  type        = string
  default     = "bridge"
  validation {
    condition     = contains(["bridge", "host"], var.network_mode)
    error_message = "network_mode must be bridge or host."
  }
}

provider "docker" {
  host = var.docker_host
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

# Looked up, never pulled: a missing image fails the build at plan, naming it.
data "docker_image" "workspace" {
  name = var.image
}

locals {
  host_network = var.network_mode == "host"
  # On a bridge network, the control plane's loopback address is the Docker host's gateway.
  init_script = local.host_network ? coder_agent.main.init_script : replace(coder_agent.main.init_script, "/localhost|127\\.0\\.0\\.1/", "host.docker.internal")
  labels = {
    "coder.owner"          = data.coder_workspace_owner.me.name
    "coder.owner_id"       = data.coder_workspace_owner.me.id
    "coder.workspace_id"   = data.coder_workspace.me.id
    "coder.workspace_name" = data.coder_workspace.me.name
  }
}

resource "coder_agent" "main" {
  os             = "linux"
  arch           = data.coder_provisioner.me.arch
  dir            = "/home/coder"
  startup_script = <<-EOT
    set -e
    # The home volume starts empty: give it the image's skeleton once.
    if [ ! -f ~/.init_done ]; then
      cp -rT /etc/skel ~ && touch ~/.init_done
    fi
  EOT
  env = {
    GIT_AUTHOR_NAME     = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
    GIT_AUTHOR_EMAIL    = data.coder_workspace_owner.me.email
    GIT_COMMITTER_NAME  = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
    GIT_COMMITTER_EMAIL = data.coder_workspace_owner.me.email
  }

  # The agent puts a `coder` command on the PATH of scripts; `coder stat` measures the container.
  metadata {
    key          = "cpu"
    display_name = "CPU Usage"
    script       = "coder stat cpu"
    interval     = 10
    timeout      = 1
  }
  metadata {
    key          = "memory"
    display_name = "Memory Usage"
    script       = "coder stat mem"
    interval     = 10
    timeout      = 1
  }
  metadata {
    key          = "home_disk"
    display_name = "Home Disk"
    script       = "coder stat disk --path $${HOME}"
    interval     = 60
    timeout      = 1
  }
  metadata {
    key          = "host_cpu"
    display_name = "Host CPU Usage"
    script       = "coder stat cpu --host"
    interval     = 10
    timeout      = 1
  }
  metadata {
    key          = "host_memory"
    display_name = "Host Memory Usage"
    script       = "coder stat mem --host"
    interval     = 10
    timeout      = 1
  }
}

resource "docker_volume" "home" {
  name = "coder-${data.coder_workspace.me.id}-home"
  # The volume outlives stops; only deleting the workspace removes it.
  lifecycle {
    ignore_changes = all
  }
  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "workspace" {
  count        = data.coder_workspace.me.start_count
  image        = data.docker_image.workspace.id
  name         = "coder-${data.coder_workspace_owner.me.name}-${lower(data.coder_workspace.me.name)}"
  hostname     = data.coder_workspace.me.name
  network_mode = var.network_mode
  entrypoint   = ["sh", "-c", local.init_script]
  env          = ["CODER_AGENT_TOKEN=${coder_agent.main.token}"]
  # The agent's download cache is in the home volume, so a restart skips the download.
  dynamic "host" {
    for_each = local.host_network ? [] : [1]
    content {
      host = "host.docker.internal"
      ip   = "host-gateway"
    }
  }
  volumes {
    container_path = "/home/coder"
    volume_name    = docker_volume.home.name
    read_only      = false
  }
  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}
