{{/* The release's name for its objects. */}}
{{- define "hearth.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hearth.labels" -}}
app.kubernetes.io/name: hearth
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "hearth.selector" -}}
app.kubernetes.io/name: hearth
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Values that cannot work fail the render, naming the value and what to set. */}}
{{- define "hearth.check" -}}
{{- if not .Values.accessURL -}}
{{- fail "accessURL is required: the URL users and workspaces reach this deployment at, e.g. https://hearth.example.com" -}}
{{- end -}}
{{- if not (hasPrefix "http" .Values.accessURL) -}}
{{- fail (printf "accessURL %q is not an http(s) URL" .Values.accessURL) -}}
{{- end -}}
{{- if not .Values.postgres.existingSecret -}}
{{- fail "postgres.existingSecret is required: the name of a Secret holding the PostgreSQL URL (under postgres.key). The chart runs no database: the embedded one cannot be shared by replicas" -}}
{{- end -}}
{{- if not .Values.secretKey.existingSecret -}}
{{- fail "secretKey.existingSecret is required: a Secret holding the deployment's secret key (64 hex digits, openssl rand -hex 32) under secretKey.key; every replica needs the same one" -}}
{{- end -}}
{{- if and .Values.provisioner.enabled (not .Values.provisioner.pskSecret) -}}
{{- fail "provisioner.pskSecret is required with provisioner.enabled: a Secret holding the workers' pre-shared key under provisioner.pskKey" -}}
{{- end -}}
{{- if lt (int .Values.server.replicas) 1 -}}
{{- fail "server.replicas must be at least 1" -}}
{{- end -}}
{{- if and .Values.provisioner.autoscaling.enabled (gt (int .Values.provisioner.autoscaling.minReplicas) (int .Values.provisioner.autoscaling.maxReplicas)) -}}
{{- fail "provisioner.autoscaling.minReplicas is above maxReplicas" -}}
{{- end -}}
{{- end -}}

{{/* The workers' tags as the server labels its gauges: k=v sorted by key, joined by commas. */}}
{{- define "hearth.tagLabel" -}}
{{- $parts := list -}}
{{- range $k, $v := .Values.provisioner.tags -}}
{{- $parts = append $parts (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $parts -}}
{{- end -}}

{{- define "hearth.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "hearth.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
