# Each build's apply writes "start BUILD HOME" and, when it has applied, "done BUILD HOME" to
# ROOT/applies.log (HOME is the job's directory, under the worker's own), and leaves a background
# process (sleep 30.123) in Terraform's process group for the worker to clean up.
variable "root" {
  type = string
}

resource "terraform_data" "work" {
  triggers_replace = [plantimestamp()]
  provisioner "local-exec" {
    command = <<-EOT
      echo "start $CODER_WORKSPACE_BUILD_ID $HOME" >>"$ROOT/applies.log"
      sleep 30.123 </dev/null >/dev/null 2>&1 &
      sleep 0.8
      echo "done $CODER_WORKSPACE_BUILD_ID $HOME" >>"$ROOT/applies.log"
    EOT
    environment = {
      ROOT = var.root
    }
  }
}
