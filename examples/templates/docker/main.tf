# A workspace as a Docker container on the provisioner's Docker host, with the home directory on a
# volume that survives stops. Needs the kreuzwerker/docker provider and a Docker engine.
terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "~> 2.20"
    }
    docker = {
      source  = "kreuzwerker/docker"
      version = "~> 3.0"
    }
  }
}

variable "docker_host" {
  description = "The Docker engine to run workspaces on."
  type        = string
  default     = "unix:///var/run/docker.sock"
}

provider "docker" {
  host = var.docker_host
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "image" {
  name         = "image"
  display_name = "Image"
  type         = "string"
  default      = "codercom/enterprise-base:ubuntu"
  mutable      = true
  option {
    name  = "Ubuntu"
    value = "codercom/enterprise-base:ubuntu"
  }
  option {
    name  = "Go"
    value = "codercom/enterprise-golang:ubuntu"
  }
}

resource "coder_agent" "main" {
  os             = "linux"
  arch           = data.coder_provisioner.me.arch
  dir            = "/home/coder"
  startup_script = "echo ready"
  env = {
    GIT_AUTHOR_NAME  = data.coder_workspace_owner.me.full_name
    GIT_AUTHOR_EMAIL = data.coder_workspace_owner.me.email
  }
  metadata {
    key          = "cpu"
    display_name = "CPU"
    script       = "top -bn1 | awk '/Cpu/ {print $2 \"%\"}'"
    interval     = 10
    timeout      = 1
  }
}

resource "docker_volume" "home" {
  name = "hearth-${data.coder_workspace.me.id}-home"
  lifecycle {
    ignore_changes = all
  }
}

resource "docker_container" "workspace" {
  count      = data.coder_workspace.me.start_count
  image      = data.coder_parameter.image.value
  name       = "hearth-${data.coder_workspace_owner.me.name}-${lower(data.coder_workspace.me.name)}"
  hostname   = data.coder_workspace.me.name
  entrypoint = ["sh", "-c", replace(coder_agent.main.init_script, "/localhost|127\\.0\\.0\\.1/", "host.docker.internal")]
  env        = ["CODER_AGENT_TOKEN=${coder_agent.main.token}"]
  host {
    host = "host.docker.internal"
    ip   = "host-gateway"
  }
  volumes {
    container_path = "/home/coder"
    volume_name    = docker_volume.home.name
  }
}
