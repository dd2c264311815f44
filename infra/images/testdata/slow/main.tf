# A template whose builds take a few seconds, so that a replica and a worker can be killed while
# builds are running.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

data "coder_workspace" "me" {}

resource "terraform_data" "work" {
  count = data.coder_workspace.me.start_count
  provisioner "local-exec" {
    command = "sleep 3"
  }
}
