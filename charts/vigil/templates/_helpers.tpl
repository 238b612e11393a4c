{{/*
Expand the name of the chart.
*/}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name (63 chars max, the DNS label limit). If the release name
contains the chart name it is used as the full name.
*/}}
{{- define "vigil.fullname" -}}
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

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "vigil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "vigil.labels" -}}
helm.sh/chart: {{ include "vigil.chart" . }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vigil
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Per-component helpers; call with (dict "root" $ "name" "<service>").
*/}}
{{- define "vigil.componentFullname" -}}
{{- printf "%s-%s" (include "vigil.fullname" .root | trunc 50 | trimSuffix "-") .name }}
{{- end }}

{{- define "vigil.componentLabels" -}}
{{ include "vigil.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "vigil.componentSelectorLabels" -}}
{{ include "vigil.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/*
The ServiceAccount to use.
*/}}
{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference.
*/}}
{{- define "vigil.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The Secret holding jwt-secret, operator-password, database-url, clickhouse-url, llm-api-key.
*/}}
{{- define "vigil.secretName" -}}
{{- default (include "vigil.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
The gRPC services: every entry of .Values.services with a grpc port (the gateway has tenant/control).
Returns a space-separated list, sorted.
*/}}
{{- define "vigil.grpcServices" -}}
{{- $names := list }}
{{- range $name, $svc := .Values.services }}
{{- if hasKey $svc.ports "grpc" }}
{{- $names = append $names $name }}
{{- end }}
{{- end }}
{{- join " " (sortAlpha $names) }}
{{- end }}

{{/*
A secretKeyRef env entry; call with (dict "root" $ "env" "VIGIL_X" "key" "x" "optional" false).
*/}}
{{- define "vigil.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "vigil.secretName" .root }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/*
The env of one process beyond the shared ConfigMap; call with (dict "root" $ "name" "<service>").
Secrets always come through secretKeyRef, never as plain values.
*/}}
{{- define "vigil.componentEnv" -}}
{{- $root := .root }}
{{- $svc := index $root.Values.services .name }}
{{- range $portName, $port := $svc.ports }}
- name: VIGIL_{{ upper $portName }}_PORT
  value: {{ $port | quote }}
{{- end }}
{{ include "vigil.secretEnv" (dict "root" $root "env" "VIGIL_DATABASE_URL" "key" "database-url") }}
{{- if eq .name "gateway" }}
{{ include "vigil.secretEnv" (dict "root" $root "env" "VIGIL_JWT_SECRET" "key" "jwt-secret") }}
- name: VIGIL_OPERATOR_EMAIL
  value: {{ $root.Values.auth.operatorEmail | quote }}
{{ include "vigil.secretEnv" (dict "root" $root "env" "VIGIL_OPERATOR_PASSWORD" "key" "operator-password") }}
- name: VIGIL_RATE_LIMITS
  value: {{ toJson $root.Values.platform.rateLimits | quote }}
- name: VIGIL_PLAN_QUOTAS
  value: {{ toJson $root.Values.platform.planQuotas | quote }}
- name: VIGIL_API_KEY_CACHE_SECONDS
  value: {{ $root.Values.platform.apiKeyCacheSeconds | quote }}
- name: VIGIL_QUOTA_CACHE_SECONDS
  value: {{ $root.Values.platform.quotaCacheSeconds | quote }}
- name: VIGIL_USAGE_FLUSH_SECONDS
  value: {{ $root.Values.platform.usageFlushSeconds | quote }}
- name: VIGIL_TRUSTED_PROXIES
  value: {{ toJson $root.Values.platform.trustedProxies | quote }}
- name: VIGIL_AUDIT_RETENTION_DAYS
  value: {{ $root.Values.platform.auditRetentionDays | quote }}
- name: VIGIL_WEBHOOK_TIMEOUT_SECONDS
  value: {{ $root.Values.outbound.webhookTimeoutSeconds | quote }}
- name: VIGIL_WEBHOOK_ALLOWED_NETWORKS
  value: {{ toJson $root.Values.outbound.webhookAllowedNetworks | quote }}
- name: VIGIL_WEBHOOK_CONCURRENCY
  value: {{ $root.Values.outbound.webhookConcurrency | quote }}
- name: VIGIL_WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION
  value: {{ $root.Values.outbound.webhookConcurrencyPerSubscription | quote }}
- name: VIGIL_WEBHOOK_DISABLE_AFTER_FAILURES
  value: {{ $root.Values.outbound.webhookDisableAfterFailures | quote }}
- name: VIGIL_WEBHOOK_POLL_SECONDS
  value: {{ $root.Values.outbound.webhookPollSeconds | quote }}
- name: VIGIL_WEBHOOK_CONSUMER_GROUP
  value: {{ $root.Values.outbound.webhookConsumerGroup | quote }}
- name: VIGIL_EVENT_STREAM_HISTORY
  value: {{ $root.Values.outbound.eventStreamHistory | quote }}
- name: VIGIL_EVENT_STREAM_CLIENT_QUEUE
  value: {{ $root.Values.outbound.eventStreamClientQueue | quote }}
- name: VIGIL_EVENT_STREAM_HEARTBEAT_SECONDS
  value: {{ $root.Values.outbound.eventStreamHeartbeatSeconds | quote }}
{{- end }}
{{- if eq .name "incident" }}
- name: VIGIL_ALERT_CONSUMER_GROUP
  value: {{ $root.Values.alerts.consumerGroup | quote }}
- name: VIGIL_ALERT_BATCH_MAX
  value: {{ $root.Values.alerts.batchMax | quote }}
- name: VIGIL_IMPACT_CACHE_SECONDS
  value: {{ $root.Values.incidents.impactCacheSeconds | quote }}
{{- end }}
{{- if eq .name "observability" }}
{{ include "vigil.secretEnv" (dict "root" $root "env" "VIGIL_CLICKHOUSE_URL" "key" "clickhouse-url") }}
{{- end }}
{{- if eq .name "ai" }}
- name: VIGIL_LLM_BASE_URL
  value: {{ $root.Values.llm.baseUrl | quote }}
- name: VIGIL_LLM_MODEL
  value: {{ $root.Values.llm.model | quote }}
{{ include "vigil.secretEnv" (dict "root" $root "env" "VIGIL_LLM_API_KEY" "key" "llm-api-key" "optional" true) }}
- name: VIGIL_LLM_TIMEOUT_SECONDS
  value: {{ $root.Values.llm.timeoutSeconds | quote }}
- name: VIGIL_LLM_MAX_RETRIES
  value: {{ $root.Values.llm.maxRetries | quote }}
- name: VIGIL_LLM_MAX_OUTPUT_TOKENS
  value: {{ $root.Values.llm.maxOutputTokens | quote }}
- name: VIGIL_LLM_MAX_INPUT_CHARS
  value: {{ $root.Values.llm.maxInputChars | quote }}
- name: VIGIL_RCA_LLM_WAIT_SECONDS
  value: {{ $root.Values.ai.rcaLlmWaitSeconds | quote }}
- name: VIGIL_RCA_LOOKBACK_MINUTES
  value: {{ $root.Values.ai.rcaLookbackMinutes | quote }}
- name: VIGIL_RCA_BASELINE_HOURS
  value: {{ $root.Values.ai.rcaBaselineHours | quote }}
- name: VIGIL_RUNBOOK_HTTP_ALLOW_PRIVATE
  value: {{ $root.Values.ai.runbookHttpAllowPrivate | quote }}
- name: VIGIL_RUNBOOK_HTTP_ALLOWED_HOSTS
  value: {{ $root.Values.ai.runbookHttpAllowedHosts | quote }}
- name: VIGIL_COPILOT_MAX_STEPS
  value: {{ $root.Values.ai.copilotMaxSteps | quote }}
{{- end }}
{{- end }}
