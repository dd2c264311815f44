terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}

variable "root" {
  type = string
}

data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

# Writes what the template knows of its owner where the test reads it.
resource "terraform_data" "owner" {
  count            = data.coder_workspace.me.start_count
  triggers_replace = timestamp()
  provisioner "local-exec" {
    command = "mkdir -p \"$OUT\" && printf %s \"$PUB\" > \"$OUT/ssh_public_key\" && printf %s \"$PRIV\" > \"$OUT/ssh_private_key\" && printf %s \"$TOKEN\" > \"$OUT/session_token\" && printf %s \"$LOGIN\" > \"$OUT/login_type\" && printf %s \"$ROLES\" > \"$OUT/rbac_roles\" && printf %s \"$OIDC\" > \"$OUT/oidc_access_token\" && printf %s \"$GROUPS\" > \"$OUT/groups\""
    environment = {
      OUT    = "${var.root}/${data.coder_workspace.me.name}"
      PUB    = data.coder_workspace_owner.me.ssh_public_key
      PRIV   = data.coder_workspace_owner.me.ssh_private_key
      TOKEN  = data.coder_workspace_owner.me.session_token
      LOGIN  = data.coder_workspace_owner.me.login_type
      ROLES  = jsonencode(data.coder_workspace_owner.me.rbac_roles)
      OIDC   = data.coder_workspace_owner.me.oidc_access_token
      GROUPS = jsonencode(data.coder_workspace_owner.me.groups)
    }
  }
}
