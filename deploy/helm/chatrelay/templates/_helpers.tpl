{{- define "chatrelay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chatrelay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "chatrelay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chatrelay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every resource but a worker build's, which carry their build's version (worker.yaml). */}}
{{- define "chatrelay.labels" -}}
{{ include "chatrelay.labelsWithoutVersion" . }}
app.kubernetes.io/version: {{ include "chatrelay.versionLabel" (include "chatrelay.tag" .) | quote }}
{{- end }}

{{/*
An image tag as a label value: at most 63 characters, starting and ending alphanumeric (a tag may
be 128 long and start with "_"); a tag with no such character at all becomes its build slug.
Argument: the tag.
*/}}
{{- define "chatrelay.versionLabel" -}}
{{- $label := regexReplaceAll "^[^A-Za-z0-9]+|[^A-Za-z0-9]+$" (trunc 63 .) "" }}
{{- default (include "chatrelay.buildSlug" .) $label }}
{{- end }}

{{- define "chatrelay.labelsWithoutVersion" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "chatrelay.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chatrelay
{{- end }}

{{/* The image tag of the current build: image.tag, else the chart's appVersion. */}}
{{- define "chatrelay.tag" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString }}
{{- if not (regexMatch "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$" $tag) }}
{{- fail (printf "image.tag %q is not a valid image tag" $tag) }}
{{- end }}
{{- $tag }}
{{- end }}

{{/*
A build id as Kubernetes names and label values allow it: lower case, [a-z0-9-], at most 20
characters of the tag, then 8 of its SHA-256 so that tags differing only in case or punctuation
stay apart. Argument: the tag.
*/}}
{{- define "chatrelay.buildSlug" -}}
{{- $clean := regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trunc 20 | trimAll "-" }}
{{- printf "%s-%s" $clean (sha256sum . | trunc 8) | trimPrefix "-" }}
{{- end }}

{{- define "chatrelay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chatrelay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "chatrelay.secretName" -}}
{{- default (printf "%s-secrets" (include "chatrelay.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "chatrelay.image" -}}
{{- printf "%s:%s" .root.Values.image.repository .tag }}
{{- end }}

{{/* Variables that hold secrets: only ever from a Secret, never a value. */}}
{{- define "chatrelay.secretKeys" -}}
ADMIN_TOKEN SECRETS_ENCRYPTION_KEY METRICS_TOKEN OPENAI_API_KEY MONGODB_URI CODEC_TOKEN PAYLOAD_ENCRYPTION_KEYS SECRETS_ENCRYPTION_OLD_KEYS TEMPORAL_API_KEY
{{- end }}

{{/* Variables the chart sets itself from other values. */}}
{{- define "chatrelay.chartKeys" -}}
PORT HOST TEMPORAL_ADDRESS TEMPORAL_NAMESPACE TEMPORAL_TASK_QUEUE TEMPORAL_DEPLOYMENT_NAME TEMPORAL_TLS TEMPORAL_TLS_SERVER_NAME TEMPORAL_TLS_CLIENT_CERT_PATH TEMPORAL_TLS_CLIENT_KEY_PATH TEMPORAL_TLS_SERVER_CA_CERT_PATH BUILD_ID WORKER_SET_CURRENT WORKER_VERSIONING METRICS_PORT METRICS_HOST WORKER_SHUTDOWN_GRACE_MS API_SHUTDOWN_TIMEOUT_MS
{{- end }}

{{- define "chatrelay.tlsDir" -}}/etc/chatrelay/temporal-tls{{- end }}

{{/* The environment of the API and the workers alike: settings, Temporal's connection, secret references. */}}
{{- define "chatrelay.env" -}}
{{- $secretKeys := splitList " " (include "chatrelay.secretKeys" .) }}
{{- $chartKeys := splitList " " (include "chatrelay.chartKeys" .) }}
{{- $tls := .Values.temporal.tls }}
{{- $_ := required "temporal.address is required (the Temporal frontend's host:port)" .Values.temporal.address }}
{{- $_ = required "config.PUBLIC_BASE_URL is required (where receivers reach the API, e.g. https://chatrelay.example.com)" .Values.config.PUBLIC_BASE_URL }}
{{- range $name, $value := .Values.config }}
{{- if has $name $secretKeys }}
{{- fail (printf "config.%s is a secret: put it in the Secret (secrets.existingSecret or secrets.values), not in config" $name) }}
{{- end }}
{{- if has $name $chartKeys }}
{{- fail (printf "config.%s is set by the chart from its own values; see the chart's README" $name) }}
{{- end }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: TEMPORAL_TASK_QUEUE
  value: {{ .Values.temporal.taskQueue | quote }}
- name: TEMPORAL_DEPLOYMENT_NAME
  value: {{ .Values.temporal.deploymentName | quote }}
{{- if or $tls.enabled $tls.existingSecret .Values.temporal.apiKey.enabled }}
- name: TEMPORAL_TLS
  value: "true"
{{- end }}
{{- with $tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if $tls.existingSecret }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: {{ printf "%s/%s" (include "chatrelay.tlsDir" .) $tls.certKey | quote }}
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: {{ printf "%s/%s" (include "chatrelay.tlsDir" .) $tls.keyKey | quote }}
{{- with $tls.caKey }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: {{ printf "%s/%s" (include "chatrelay.tlsDir" $) . | quote }}
{{- end }}
{{- end }}
{{- $secretName := include "chatrelay.secretName" . }}
{{- range $key := list "ADMIN_TOKEN" "SECRETS_ENCRYPTION_KEY" "METRICS_TOKEN" "OPENAI_API_KEY" "MONGODB_URI" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $key }}
{{- end }}
{{- range $key := list "CODEC_TOKEN" "PAYLOAD_ENCRYPTION_KEYS" "SECRETS_ENCRYPTION_OLD_KEYS" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- if .Values.temporal.apiKey.enabled }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default $secretName .Values.temporal.apiKey.existingSecret }}
      key: {{ .Values.temporal.apiKey.key }}
{{- end }}
{{- end }}

{{/* Volumes every pod has: a writable /tmp (the root filesystem is read-only) and the Temporal client certificate. */}}
{{- define "chatrelay.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "chatrelay.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  mountPath: {{ include "chatrelay.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the API and the workers. */}}
{{- define "chatrelay.podSpecCommon" -}}
serviceAccountName: {{ include "chatrelay.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}
