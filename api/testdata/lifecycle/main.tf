# A workspace made of files: a persistent "home" (survives stop) and an ephemeral "run" marker that
# exists only while started. Variables, parameters and the agent's token reach the files, so a test
# can see what Terraform was given.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "root" {
  type = string
}

variable "greeting" {
  type      = string
  default   = "hello"
  sensitive = true
}

data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "size" {
  name    = "size"
  type    = "number"
  default = 2
  mutable = true
  validation {
    min       = 1
    max       = 8
    monotonic = "increasing"
  }
}

data "coder_parameter" "region" {
  name = "region"
  type = "string"
  option {
    name  = "EU"
    value = "eu"
  }
  option {
    name  = "US"
    value = "us"
  }
}

locals {
  dir = "${var.root}/${data.coder_workspace_owner.me.name}-${data.coder_workspace.me.id}"
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
  dir  = local.dir
  env = {
    REGION = data.coder_parameter.region.value
  }
  metadata {
    key          = "load"
    display_name = "Load"
    script       = "cat /proc/loadavg"
    interval     = 10
  }
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"
  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = 3
  }
}

resource "coder_script" "hello" {
  agent_id     = coder_agent.main.id
  display_name = "Hello"
  script       = "echo hello"
  run_on_start = true
}

resource "terraform_data" "home" {
  input = local.dir
  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\" && echo \"$GREETING\" > \"$DIR/home\""
    environment = {
      DIR      = local.dir
      GREETING = var.greeting
    }
  }
  provisioner "local-exec" {
    when    = destroy
    command = "rm -rf \"$DIR\""
    environment = {
      DIR = self.input
    }
  }
}

resource "terraform_data" "run" {
  count      = data.coder_workspace.me.start_count
  depends_on = [terraform_data.home]
  input      = local.dir
  provisioner "local-exec" {
    command = "echo \"size=$SIZE region=$REGION name=$NAME\" > \"$DIR/run\" && echo \"$TOKEN\" > \"$DIR/token\""
    environment = {
      DIR    = local.dir
      SIZE   = data.coder_parameter.size.value
      REGION = data.coder_parameter.region.value
      NAME   = data.coder_workspace.me.name
      TOKEN  = coder_agent.main.token
    }
  }
  provisioner "local-exec" {
    when    = destroy
    command = "rm -f \"$DIR/run\" \"$DIR/token\""
    environment = {
      DIR = self.input
    }
  }
}
