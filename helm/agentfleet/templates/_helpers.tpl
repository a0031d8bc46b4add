{{/* Names: <release>-agentfleet unless the release name already contains the chart name. */}}
{{- define "agentfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agentfleet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* <fullname>-<suffix>, cut to 63 characters (object names that become labels or DNS names). */}}
{{- define "agentfleet.component" -}}
{{- printf "%s-%s" (include "agentfleet.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agentfleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "agentfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agentfleet
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (control-plane, worker, migrations). Never change: selectors are immutable. */}}
{{- define "agentfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentfleet.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "agentfleet.componentLabels" -}}
{{ include "agentfleet.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "agentfleet.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{- define "agentfleet.controlPlane.serviceAccountName" -}}
{{- if .Values.controlPlane.serviceAccount.create }}
{{- default (include "agentfleet.component" (dict "root" . "name" "control-plane")) .Values.controlPlane.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controlPlane.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "agentfleet.worker.serviceAccountName" -}}
{{- if .Values.worker.serviceAccount.create }}
{{- default (include "agentfleet.component" (dict "root" . "name" "worker")) .Values.worker.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.worker.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* "true" when the workers drive Kubernetes Jobs (needs RBAC in the jobs namespace and an API token). */}}
{{- define "agentfleet.kubernetesRuntime.enabled" -}}
{{- if has "kubernetes" .Values.worker.runtimes }}true{{- end }}
{{- end }}

{{/* Secrets: the chart's own unless an existing one is named. Each yields "name" and "key". */}}
{{- define "agentfleet.databaseSecret.name" -}}
{{- default (include "agentfleet.component" (dict "root" . "name" "database")) .Values.database.existingSecret }}
{{- end }}
{{- define "agentfleet.databaseSecret.key" -}}
{{- ternary .Values.database.existingSecretKey "url" (ne .Values.database.existingSecret "") }}
{{- end }}

{{- define "agentfleet.redisSecret.name" -}}
{{- default (include "agentfleet.component" (dict "root" . "name" "redis")) .Values.redis.existingSecret }}
{{- end }}
{{- define "agentfleet.redisSecret.key" -}}
{{- ternary .Values.redis.existingSecretKey "url" (ne .Values.redis.existingSecret "") }}
{{- end }}

{{- define "agentfleet.neo4jSecret.name" -}}
{{- default (include "agentfleet.component" (dict "root" . "name" "neo4j")) .Values.neo4j.existingSecret }}
{{- end }}
{{- define "agentfleet.neo4jSecret.key" -}}
{{- ternary .Values.neo4j.existingSecretKey "password" (ne .Values.neo4j.existingSecret "") }}
{{- end }}
{{/* "true" when a Neo4j password reaches the pods. */}}
{{- define "agentfleet.neo4j.hasPassword" -}}
{{- if and .Values.neo4j.url (or .Values.neo4j.existingSecret .Values.neo4j.password) }}true{{- end }}
{{- end }}

{{- define "agentfleet.secretKeysSecret.name" -}}
{{- default (include "agentfleet.component" (dict "root" . "name" "secret-keys")) .Values.secretKeys.existingSecret }}
{{- end }}
{{- define "agentfleet.secretKeysSecret.key" -}}
{{- ternary .Values.secretKeys.existingSecretKey "keys" (ne .Values.secretKeys.existingSecret "") }}
{{- end }}
{{/* "true" when AGENTFLEET_SECRET_KEYS reaches the control plane. */}}
{{- define "agentfleet.secretKeys.enabled" -}}
{{- if or .Values.secretKeys.existingSecret .Values.secretKeys.value .Values.secretKeys.generate }}true{{- end }}
{{- end }}

{{- define "agentfleet.bootstrapTokenSecret.name" -}}
{{- default (include "agentfleet.component" (dict "root" . "name" "bootstrap-worker-token")) .Values.bootstrapWorkerToken.existingSecret }}
{{- end }}
{{- define "agentfleet.bootstrapTokenSecret.key" -}}
{{- ternary .Values.bootstrapWorkerToken.existingSecretKey "token" (ne .Values.bootstrapWorkerToken.existingSecret "") }}
{{- end }}

{{/*
A value kept across upgrades: the given one, else the one already in the release's Secret (lookup: empty
under `helm template` and --dry-run), else a fresh one. Args: root, secret (name), key, given, fresh.
*/}}
{{- define "agentfleet.keptSecretValue" -}}
{{- if .given }}
{{- .given }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret }}
{{- if and $existing $existing.data (hasKey $existing.data .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- .fresh }}
{{- end }}
{{- end }}
{{- end }}

{{/* env entries of the stores both processes reach (Redis and, when configured, Neo4j). */}}
{{- define "agentfleet.env.redis" -}}
- name: AGENTFLEET_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "agentfleet.redisSecret.name" . }}
      key: {{ include "agentfleet.redisSecret.key" . }}
{{- end }}

{{- define "agentfleet.env.neo4j" -}}
{{- if .Values.neo4j.url }}
- name: AGENTFLEET_NEO4J_URL
  value: {{ .Values.neo4j.url | quote }}
- name: AGENTFLEET_NEO4J_USERNAME
  value: {{ .Values.neo4j.username | quote }}
{{- if include "agentfleet.neo4j.hasPassword" . }}
- name: AGENTFLEET_NEO4J_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "agentfleet.neo4jSecret.name" . }}
      key: {{ include "agentfleet.neo4jSecret.key" . }}
{{- end }}
{{- end }}
{{- end }}

{{- define "agentfleet.env.database" -}}
- name: AGENTFLEET_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "agentfleet.databaseSecret.name" . }}
      key: {{ include "agentfleet.databaseSecret.key" . }}
{{- end }}

{{/* Pools whose queues drive KEDA. */}}
{{- define "agentfleet.keda.pools" -}}
{{- toJson (default .Values.bootstrapWorkerToken.pools .Values.worker.autoscaling.keda.pools) }}
{{- end }}

{{/* Checks JSON Schema cannot express; each names the values at fault. */}}
{{- define "agentfleet.validate" -}}
{{- $cp := .Values.controlPlane }}
{{- if le (int $cp.workerGracePeriodMs) (int $cp.heartbeatIntervalMs) }}
{{- fail (printf "controlPlane.workerGracePeriodMs (%v) must be longer than controlPlane.heartbeatIntervalMs (%v)" $cp.workerGracePeriodMs $cp.heartbeatIntervalMs) }}
{{- end }}
{{- $as := .Values.worker.autoscaling }}
{{- if and $as.enabled (gt (int $as.minReplicas) (int $as.maxReplicas)) }}
{{- fail (printf "worker.autoscaling.minReplicas (%v) must not exceed worker.autoscaling.maxReplicas (%v)" $as.minReplicas $as.maxReplicas) }}
{{- end }}
{{- if and $as.enabled $as.keda.enabled (not $as.keda.redis.address) (not .Values.redis.url) }}
{{- fail "worker.autoscaling.keda.redis.address is required (host:port) when redis.existingSecret is used: KEDA cannot read the URL from your Secret" }}
{{- end }}
{{- end }}

{{/* A map as `key=value,key=value` (sorted), the format of AGENTFLEET_WORKER_LABELS. */}}
{{- define "agentfleet.keyValueList" -}}
{{- $pairs := list }}
{{- range $k, $v := . }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
