# Apply starts two background processes: one left in Terraform's process group (an accident the
# worker cleans up) and one in a session of its own (as a workspace agent runs, meant to outlive the
# build). Each writes its pid under root.
variable "root" {
  type = string
}

resource "terraform_data" "background" {
  provisioner "local-exec" {
    command = <<-EOT
      sleep 300 </dev/null >/dev/null 2>&1 &
      echo $! >"$ROOT/leftover.pid"
      setsid sleep 300 </dev/null >/dev/null 2>&1 &
      echo $! >"$ROOT/kept.pid"
    EOT
    environment = {
      ROOT = var.root
    }
  }
}
