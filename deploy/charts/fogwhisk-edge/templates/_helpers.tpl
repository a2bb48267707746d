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
