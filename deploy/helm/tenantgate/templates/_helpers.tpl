{{/* Names and labels. */}}
{{- define "tenantgate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tenantgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tenantgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tenantgate.labels" -}}
{{ include "tenantgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tenantgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tenantgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The unix socket of sidecar mode. */}}
{{- define "tenantgate.socket" -}}/var/run/tenantgate/authz.sock{{- end -}}

{{- define "tenantgate.sidecarSocket" -}}
{{- and (eq .Values.mode "sidecar") .Values.sidecar.unixSocket -}}
{{- end -}}

{{/* Refusals: combinations that cannot work, said at install time rather than as a crash loop. */}}
{{- define "tenantgate.validate" -}}
{{- if not (has .Values.mode (list "shared" "sidecar")) -}}
{{- fail (printf "mode must be shared or sidecar, not %q" .Values.mode) -}}
{{- end -}}
{{- if and (eq .Values.mode "shared") (gt (int .Values.replicaCount) 1) (not .Values.store.postgres.url) -}}
{{- fail "replicaCount > 1 needs a store the replicas share: set store.postgres.url (fleet mode, docs/fleet.md); each replica would otherwise have its own SQLite file" -}}
{{- end -}}
{{- if and .Values.store.postgres.url (regexMatch "://[^/@]*:[^/@]*@" .Values.store.postgres.url) -}}
{{- fail "store.postgres.url holds a password: put it in a Secret and name it in store.postgres.passwordSecret" -}}
{{- end -}}
{{- if and .Values.policies.bundleConfigMap .Values.policies.bundleUrl -}}
{{- fail "set policies.bundleConfigMap or policies.bundleUrl, not both" -}}
{{- end -}}
{{- range .Values.auth.jwt.issuers -}}
{{- if not (or .jwksUrl .jwksSecret .jwks_url .secret_env) -}}
{{- fail (printf "issuer %s: set jwksUrl or jwksSecret" .issuer) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* tenantgate.yaml: what the chart sets, with .Values.config merged over it. */}}
{{- define "tenantgate.config" -}}
{{- $server := dict "http_address" (printf "0.0.0.0:%v" .Values.ports.http) "admin_address" (printf "0.0.0.0:%v" .Values.ports.admin) -}}
{{- $store := dict -}}
{{- if .Values.store.postgres.url -}}
{{- $_ := set $store "url" .Values.store.postgres.url -}}
{{- if .Values.store.postgres.caSecret.name -}}{{- $_ := set $store "ssl_ca_file" "/etc/tenantgate/postgres-ca/ca.crt" -}}{{- end -}}
{{- end -}}
{{- $quota := dict "enabled" .Values.quota.enabled -}}
{{- if .Values.quota.redis.urlSecret.name -}}{{- $_ := set $quota "store" "redis" -}}{{- end -}}
{{- $issuers := list -}}
{{- range $i, $iss := .Values.auth.jwt.issuers -}}
{{- $out := omit $iss "jwksUrl" "jwksSecret" -}}
{{- if $iss.jwksUrl -}}{{- $_ := set $out "jwks_url" $iss.jwksUrl -}}{{- end -}}
{{- if $iss.jwksSecret -}}{{- $_ := set $out "jwks_file" (printf "/etc/tenantgate/jwks/%d/jwks.json" $i) -}}{{- end -}}
{{- $issuers = append $issuers $out -}}
{{- end -}}
{{- $policies := dict "watch" false -}}
{{- if .Values.policies.bundleUrl -}}{{- $_ := set $policies "bundle_url" .Values.policies.bundleUrl -}}{{- end -}}
{{- $base := dict "server" $server "store" $store "quota" $quota "policies" $policies "log" (dict "level" "info") -}}
{{- if $issuers -}}{{- $_ := set $base "auth" (dict "jwt" (dict "issuers" $issuers)) -}}{{- end -}}
{{- if .Values.admin.existingSecret -}}{{- $_ := set $base "admin" (dict "token_file" "/etc/tenantgate/admin/token") -}}{{- end -}}
{{- toYaml (mustMergeOverwrite $base (deepCopy .Values.config)) -}}
{{- end -}}

{{/*
The tenantgate container. The image sets server.address, store.path and policies.bundle_file in its environment,
which wins over the config file: those three are set here the same way.
*/}}
{{- define "tenantgate.container" -}}
{{- $socket := include "tenantgate.sidecarSocket" . | eq "true" -}}
name: tenantgate
image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
args: ["serve", "--config", "/etc/tenantgate/config/tenantgate.yaml"]
env:
  - name: TENANTGATE_SERVER__ADDRESS
    value: {{ ternary (printf "unix:%s" (include "tenantgate.socket" .)) (printf "0.0.0.0:%v" .Values.ports.grpc) $socket | quote }}
  - name: TENANTGATE_STORE__PATH
    value: {{ .Values.store.sqlite.path | quote }}
  {{- if .Values.policies.bundleConfigMap }}
  - name: TENANTGATE_POLICIES__BUNDLE_FILE
    value: {{ printf "/etc/tenantgate/policy/%s" .Values.policies.bundleKey | quote }}
  {{- end }}
  {{- if .Values.store.postgres.passwordSecret.name }}
  - name: TENANTGATE_STORE_PASSWORD
    valueFrom: {secretKeyRef: {name: {{ .Values.store.postgres.passwordSecret.name | quote }}, key: {{ .Values.store.postgres.passwordSecret.key | quote }}}}
  {{- end }}
  {{- if .Values.quota.redis.urlSecret.name }}
  - name: TENANTGATE_QUOTA__REDIS_URL
    valueFrom: {secretKeyRef: {name: {{ .Values.quota.redis.urlSecret.name | quote }}, key: {{ .Values.quota.redis.urlSecret.key | quote }}}}
  {{- end }}
  {{- with .Values.env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
ports:
  {{- if not $socket }}
  - {name: grpc, containerPort: {{ .Values.ports.grpc }}, protocol: TCP}
  {{- end }}
  - {name: http, containerPort: {{ .Values.ports.http }}, protocol: TCP}
  {{- if .Values.admin.existingSecret }}
  - {name: admin, containerPort: {{ .Values.ports.admin }}, protocol: TCP}
  {{- end }}
# Serving: the gRPC health service (NOT_SERVING while the store is unreachable or while draining); over a socket,
# which a probe cannot reach, /healthz. Ready: /readyz (a policy loaded, the store reachable).
livenessProbe:
  {{- if $socket }}
  httpGet: {path: /healthz, port: http}
  {{- else }}
  grpc: {port: {{ .Values.ports.grpc }}}
  {{- end }}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  failureThreshold: 2
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 60
resources:
  {{- toYaml .Values.resources | nindent 2 }}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  capabilities: {drop: [ALL]}
  seccompProfile: {type: RuntimeDefault}
volumeMounts:
  - {name: config, mountPath: /etc/tenantgate/config, readOnly: true}
  - {name: data, mountPath: {{ dir .Values.store.sqlite.path | quote }}}
  - {name: tmp, mountPath: /tmp}
  {{- if $socket }}
  - {name: socket, mountPath: {{ dir (include "tenantgate.socket" .) | quote }}}
  {{- end }}
  {{- if .Values.admin.existingSecret }}
  - {name: admin-token, mountPath: /etc/tenantgate/admin, readOnly: true}
  {{- end }}
  {{- if .Values.policies.bundleConfigMap }}
  - {name: policy, mountPath: /etc/tenantgate/policy, readOnly: true}
  {{- end }}
  {{- if .Values.store.postgres.caSecret.name }}
  - {name: postgres-ca, mountPath: /etc/tenantgate/postgres-ca, readOnly: true}
  {{- end }}
  {{- range $i, $iss := .Values.auth.jwt.issuers }}
  {{- if $iss.jwksSecret }}
  - {name: {{ printf "jwks-%d" $i }}, mountPath: {{ printf "/etc/tenantgate/jwks/%d" $i | quote }}, readOnly: true}
  {{- end }}
  {{- end }}
{{- end -}}

{{/* The volumes the container mounts (the socket's too, shared with Envoy in sidecar mode). */}}
{{- define "tenantgate.volumes" -}}
- name: config
  configMap: {name: {{ include "tenantgate.fullname" . }}}
- name: data
  {{- if and .Values.store.sqlite.persistence.enabled (eq .Values.mode "shared") }}
  persistentVolumeClaim: {claimName: {{ include "tenantgate.fullname" . }}}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir: {medium: Memory, sizeLimit: 16Mi}
{{- if include "tenantgate.sidecarSocket" . | eq "true" }}
- name: socket
  emptyDir: {medium: Memory, sizeLimit: 1Mi}
{{- end }}
{{- if .Values.admin.existingSecret }}
- name: admin-token
  secret: {secretName: {{ .Values.admin.existingSecret | quote }}, items: [{key: {{ .Values.admin.secretKey | quote }}, path: token}], defaultMode: 0440}
{{- end }}
{{- if .Values.policies.bundleConfigMap }}
- name: policy
  configMap: {name: {{ .Values.policies.bundleConfigMap | quote }}}
{{- end }}
{{- if .Values.store.postgres.caSecret.name }}
- name: postgres-ca
  secret: {secretName: {{ .Values.store.postgres.caSecret.name | quote }}, items: [{key: {{ .Values.store.postgres.caSecret.key | quote }}, path: ca.crt}]}
{{- end }}
{{- range $i, $iss := .Values.auth.jwt.issuers }}
{{- if $iss.jwksSecret }}
- name: {{ printf "jwks-%d" $i }}
  secret: {secretName: {{ $iss.jwksSecret.name | quote }}, items: [{key: {{ $iss.jwksSecret.key | default "jwks.json" | quote }}, path: jwks.json}]}
{{- end }}
{{- end }}
{{- end -}}
