{{/* Names, labels and derived values shared by the fogwhisk-edge templates. */}}

{{- define "fogwhisk-edge.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped base name; the release name alone when it already contains the chart name. */}}
{{- define "fogwhisk-edge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 53 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 53 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fogwhisk-edge.mosquittoName" -}}
{{- printf "%s-mosquitto" (include "fogwhisk-edge.fullname" .) -}}
{{- end -}}

{{- define "fogwhisk-edge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "fogwhisk-edge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fogwhisk
fogwhisk.io/site: {{ .Values.site.id | quote }}
{{- end -}}

{{- define "fogwhisk-edge.agentSelector" -}}
app.kubernetes.io/name: {{ include "fogwhisk-edge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "fogwhisk-edge.mosquittoSelector" -}}
app.kubernetes.io/name: {{ include "fogwhisk-edge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: mosquitto
{{- end -}}

{{- define "fogwhisk-edge.secretName" -}}
{{- default (include "fogwhisk-edge.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "fogwhisk-edge.mosquittoSecretName" -}}
{{- default (include "fogwhisk-edge.mosquittoName" .) .Values.mosquitto.existingSecret -}}
{{- end -}}

{{- define "fogwhisk-edge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The port the agent reaches the hub on: networkPolicy.hub.port, else from hub.url. */}}
{{- define "fogwhisk-edge.hubPort" -}}
{{- if .Values.networkPolicy.hub.port -}}
{{- .Values.networkPolicy.hub.port -}}
{{- else -}}
{{- $u := urlParse .Values.hub.url -}}
{{- $hostParts := splitList ":" $u.host -}}
{{- if and (gt (len $hostParts) 1) (regexMatch "^[0-9]+$" (last $hostParts)) -}}
{{- last $hostParts -}}
{{- else if eq $u.scheme "http" -}}
80
{{- else -}}
443
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A sensor's MQTT user name: its fingerprint unless `username` is given. */}}
{{- define "fogwhisk-edge.deviceUser" -}}
{{- default .fingerprint .username -}}
{{- end -}}

{{/* Whether any device takes its password from a Secret. */}}
{{- define "fogwhisk-edge.deviceSecrets" -}}
{{- range .Values.mosquitto.devices }}{{ if .passwordSecret }}yes{{ end }}{{ end -}}
{{- end -}}

{{/*
Checks of the broker users that the schema cannot express: unique user names across users and
devices, the agent's user among the users, no device named like the agent, extraAcl starting a user's
section (otherwise its topic lines would extend the last device's rights).
*/}}
{{- define "fogwhisk-edge.checkMosquitto" -}}
{{- $m := .Values.mosquitto -}}
{{- $seen := dict -}}
{{- if not $m.existingSecret -}}
{{- range $m.users -}}
{{- if hasKey $seen .username -}}{{- fail (printf "mosquitto.users: user %q appears twice" .username) -}}{{- end -}}
{{- $_ := set $seen .username "user" -}}
{{- end -}}
{{- if not (hasKey $seen $m.agentUser) -}}
{{- fail (printf "mosquitto.agentUser %q is not one of mosquitto.users" $m.agentUser) -}}
{{- end -}}
{{- end -}}
{{- range $m.devices -}}
{{- $u := include "fogwhisk-edge.deviceUser" . -}}
{{- if or (hasKey $seen $u) (eq $u $m.agentUser) -}}
{{- fail (printf "mosquitto.devices: the MQTT user %q (device %v/%s) is already used; give the device a username" $u (int64 .datacenter) .fingerprint) -}}
{{- end -}}
{{- $_ := set $seen $u "device" -}}
{{- end -}}
{{- $acl := dict -}}
{{- range (regexSplit "\n" $m.extraAcl -1) -}}
{{- $line := trim . -}}
{{- if and $line (not (hasPrefix "#" $line)) (not (hasKey $acl "started")) -}}
{{- if not (or (hasPrefix "user " $line) (hasPrefix "pattern " $line)) -}}
{{- fail (printf "mosquitto.extraAcl must start with a 'user NAME' (or 'pattern') line, not %q" $line) -}}
{{- end -}}
{{- $_ := set $acl "started" true -}}
{{- end -}}
{{- end -}}
{{- end -}}
