terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}

variable "root" {
  type = string
}

data "coder_workspace" "me" {}

# A machine that costs 4 credits a day while the workspace runs.
resource "terraform_data" "machine" {
  count = data.coder_workspace.me.start_count
  input = "${var.root}/${data.coder_workspace.me.name}"
}

resource "coder_metadata" "machine" {
  count       = data.coder_workspace.me.start_count
  resource_id = terraform_data.machine[0].id
  daily_cost  = 4
}
