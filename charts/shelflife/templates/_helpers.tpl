{{/* Names and labels. */}}
{{- define "shelflife.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shelflife.fullname" -}}
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

{{- define "shelflife.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shelflife.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "shelflife.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "shelflife.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "shelflife.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shelflife.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "shelflife.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "shelflife.policiesConfigMap" -}}
{{- $files := .Values.policies.files }}
{{- $existing := .Values.policies.existingConfigMap }}
{{- if and $files $existing }}
{{- fail "set policies.files or policies.existingConfigMap, not both" }}
{{- else if $existing }}
{{- $existing }}
{{- else if $files }}
{{- printf "%s-policies" (include "shelflife.fullname" .) }}
{{- else }}
{{- fail "no policies: set policies.files or policies.existingConfigMap" }}
{{- end }}
{{- end }}

{{/*
The shelflife container. Call with (dict "root" $ "args" (list ...) "policies" true|false).
*/}}
{{- define "shelflife.container" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
- name: shelflife
  image: {{ include "shelflife.image" $root | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args:
    {{- toYaml .args | nindent 4 }}
  env:
    - name: DATABASE_URL
      valueFrom:
        secretKeyRef:
          name: {{ required "database.existingSecret is required: a Secret holding the PostgreSQL URL" $v.database.existingSecret }}
          key: {{ $v.database.secretKey }}
    - name: SHELFLIFE_LOG_FORMAT
      value: {{ $v.logFormat | quote }}
    - name: SHELFLIFE_KEEP_PLANS
      value: {{ $v.keepPlans | quote }}
    {{- if .policies }}
    - name: SHELFLIFE_POLICIES
      value: /etc/shelflife/policies
    {{- if $v.policies.revision }}
    - name: SHELFLIFE_POLICY_REVISION
      value: {{ $v.policies.revision | quote }}
    {{- end }}
    {{- if $v.audit.keySecret }}
    - name: SHELFLIFE_AUDIT_KEY_FILE
      value: {{ printf "/etc/shelflife/audit/%s" $v.audit.keySecretKey | quote }}
    {{- end }}
    {{- end }}
    {{- with $v.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.envFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .ports }}
  ports:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .probes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- if .policies }}
    - name: policies
      mountPath: /etc/shelflife/policies
      readOnly: true
    {{- if $v.audit.keySecret }}
    - name: audit-key
      mountPath: /etc/shelflife/audit
      readOnly: true
    {{- end }}
    {{- end }}
{{- end }}

{{/* The pod's volumes; same arguments as shelflife.container. */}}
{{- define "shelflife.volumes" -}}
{{- $v := .root.Values }}
- name: tmp
  emptyDir:
    sizeLimit: {{ $v.tmp.sizeLimit }}
{{- if .policies }}
- name: policies
  configMap:
    name: {{ include "shelflife.policiesConfigMap" .root }}
{{- if $v.audit.keySecret }}
- name: audit-key
  secret:
    secretName: {{ $v.audit.keySecret }}
    defaultMode: 0400
    items:
      - key: {{ $v.audit.keySecretKey }}
        path: {{ $v.audit.keySecretKey }}
{{- end }}
{{- end }}
{{- end }}

{{/* Scheduling and security shared by every pod. */}}
{{- define "shelflife.podCommon" -}}
{{- $v := .Values }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* `shelflife run` arguments from cronJob values. */}}
{{- define "shelflife.runArgs" -}}
{{- $c := .Values.cronJob }}
{{- $args := list "run" (printf "--%s" $c.mode) }}
{{- range $c.policies }}
{{- $args = append $args "--policy" }}
{{- $args = append $args . }}
{{- end }}
{{- if gt (int $c.parallelism) 1 }}
{{- $args = append $args "--join" }}
{{- end }}
{{- if $c.pushgateway }}
{{- $args = append $args "--pushgateway" }}
{{- $args = append $args $c.pushgateway }}
{{- end }}
{{- toYaml (concat $args $c.extraArgs) }}
{{- end }}
