terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}

# One parameter of each form type the dashboard draws.
data "coder_parameter" "notes" {
  name      = "notes"
  type      = "string"
  form_type = "textarea"
  default   = ""
  styling   = jsonencode({ placeholder = "Anything to remember" })
}

data "coder_parameter" "cpus" {
  name      = "cpus"
  type      = "number"
  form_type = "slider"
  default   = 4
  validation {
    min = 1
    max = 16
  }
}

data "coder_parameter" "gpu" {
  name      = "gpu"
  type      = "bool"
  form_type = "switch"
  default   = false
  styling   = jsonencode({ label = "Attach a GPU" })
}

data "coder_parameter" "editors" {
  name      = "editors"
  type      = "list(string)"
  form_type = "multi-select"
  default   = jsonencode(["vim"])
  option {
    name  = "Vim"
    value = "vim"
  }
  option {
    name  = "Emacs"
    value = "emacs"
  }
}

data "coder_parameter" "labels" {
  name    = "labels"
  type    = "list(string)"
  default = jsonencode([])
}

data "coder_parameter" "region" {
  name      = "region"
  type      = "string"
  form_type = "dropdown"
  default   = "eu"
  option {
    name  = "Europe"
    value = "eu"
  }
  option {
    name  = "America"
    value = "us"
  }
}

data "coder_parameter" "secret" {
  name    = "secret"
  type    = "string"
  default = ""
  styling = jsonencode({ mask_input = true })
}
