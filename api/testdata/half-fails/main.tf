# Apply makes one resource and then fails on the next: the state must keep the first.
variable "root" {
  type = string
}

resource "terraform_data" "made" {
  input = var.root
  provisioner "local-exec" {
    command = "touch \"$ROOT/made\""
    environment = {
      ROOT = var.root
    }
  }
  provisioner "local-exec" {
    when    = destroy
    command = "rm -f \"$ROOT/made\""
    environment = {
      ROOT = self.input
    }
  }
}

resource "terraform_data" "broken" {
  depends_on = [terraform_data.made]
  provisioner "local-exec" {
    command = "echo the machine is on fire >&2; exit 1"
  }
}
