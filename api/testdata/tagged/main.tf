terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}

data "coder_parameter" "where" {
  name    = "region"
  type    = "string"
  default = "eu"
  option {
    name  = "Europe"
    value = "eu"
  }
  option {
    name  = "America"
    value = "us"
  }
}

# Builds go to workers in the chosen region; every one runs on Linux.
data "coder_workspace_tags" "routing" {
  tags = {
    os     = "linux"
    region = data.coder_parameter.where.value
  }
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
  api_key_scope = "all"
}
