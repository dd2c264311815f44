# Apply says it has begun (ROOT/applying) and waits for the test to let it finish (ROOT/go), so a
# test can act on the worker while it applies.
variable "root" {
  type = string
}

resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "touch \"$ROOT/applying\"; i=0; while [ ! -f \"$ROOT/go\" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
    environment = {
      ROOT = var.root
    }
  }
}
