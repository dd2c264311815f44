# A workspace as a Kubernetes pod, with the home directory on a persistent volume claim that survives
# stops. Needs the hashicorp/kubernetes provider and a cluster the provisioner can reach.
terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "~> 2.20"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.30"
    }
  }
}

variable "namespace" {
  description = "The namespace workspaces run in."
  type        = string
  default     = "hearth-workspaces"
}

variable "use_kubeconfig" {
  description = "Use ~/.kube/config (true) or the in-cluster service account (false)."
  type        = bool
  default     = false
}

provider "kubernetes" {
  config_path = var.use_kubeconfig ? "~/.kube/config" : null
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "cpu" {
  name         = "cpu"
  display_name = "CPU cores"
  type         = "number"
  default      = 2
  mutable      = true
  validation {
    min = 1
    max = 8
  }
}

data "coder_parameter" "home_size" {
  name         = "home_size"
  display_name = "Home disk (GiB)"
  type         = "number"
  default      = 10
  mutable      = true
  validation {
    min       = 1
    max       = 100
    monotonic = "increasing"
  }
}

resource "coder_agent" "main" {
  os             = "linux"
  arch           = data.coder_provisioner.me.arch
  dir            = "/home/coder"
  startup_script = "echo ready"
}

resource "kubernetes_persistent_volume_claim" "home" {
  metadata {
    name      = "hearth-${data.coder_workspace.me.id}-home"
    namespace = var.namespace
  }
  wait_until_bound = false
  spec {
    access_modes = ["ReadWriteOnce"]
    resources {
      requests = {
        storage = "${data.coder_parameter.home_size.value}Gi"
      }
    }
  }
}

resource "kubernetes_pod" "workspace" {
  count = data.coder_workspace.me.start_count
  metadata {
    name      = "hearth-${data.coder_workspace.me.id}"
    namespace = var.namespace
    labels = {
      "app.kubernetes.io/name"     = "hearth-workspace"
      "hearth.dev/workspace-owner" = data.coder_workspace_owner.me.name
    }
  }
  spec {
    security_context {
      run_as_user = 1000
      fs_group    = 1000
    }
    container {
      name    = "dev"
      image   = "codercom/enterprise-base:ubuntu"
      command = ["sh", "-c", coder_agent.main.init_script]
      env {
        name  = "CODER_AGENT_TOKEN"
        value = coder_agent.main.token
      }
      resources {
        requests = {
          cpu    = "${data.coder_parameter.cpu.value}"
          memory = "2Gi"
        }
        limits = {
          cpu = "${data.coder_parameter.cpu.value}"
        }
      }
      volume_mount {
        mount_path = "/home/coder"
        name       = "home"
      }
    }
    volume {
      name = "home"
      persistent_volume_claim {
        claim_name = kubernetes_persistent_volume_claim.home.metadata[0].name
      }
    }
  }
}
