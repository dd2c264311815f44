terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}

data "coder_parameter" "size" {
  name    = "size"
  type    = "number"
  default = 2
  mutable = true
}

data "coder_parameter" "region" {
  name    = "region"
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

data "coder_workspace_preset" "small_us" {
  name        = "Small in America"
  description = "Two cores near New York"
  default     = true
  parameters = {
    (data.coder_parameter.size.name)   = "2"
    (data.coder_parameter.region.name) = "us"
  }
  prebuilds {
    instances = 1
  }
}

data "coder_workspace_preset" "big" {
  name = "Big"
  parameters = {
    size = "8"
  }
}
