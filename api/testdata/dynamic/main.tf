terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}

locals {
  regions = {
    aws = { "us-east-1" = "N. Virginia", "eu-west-1" = "Ireland" }
    gcp = { "europe-west4" = "Netherlands" }
  }
}

data "coder_workspace_owner" "me" {}

data "coder_parameter" "cloud" {
  name    = "cloud"
  default = "aws"
  option {
    name  = "AWS"
    value = "aws"
  }
  option {
    name  = "Google Cloud"
    value = "gcp"
  }
}

data "coder_parameter" "region" {
  name    = "region"
  default = keys(local.regions[data.coder_parameter.cloud.value])[0]
  dynamic "option" {
    for_each = local.regions[data.coder_parameter.cloud.value]
    content {
      name  = option.value
      value = option.key
    }
  }
}

data "coder_parameter" "gpu" {
  name    = "gpu"
  type    = "bool"
  default = contains(data.coder_workspace_owner.me.groups, "ml") ? "true" : "false"
}

data "coder_parameter" "gpu_kind" {
  count   = data.coder_parameter.gpu.value == "true" ? 1 : 0
  name    = "gpu_kind"
  default = "a100"
  order   = 9
}
