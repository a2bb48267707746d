{{/* Names, labels and derived values shared by the fogwhisk-hub templates. */}}

{{- define "fogwhisk-hub.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fogwhisk-hub.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 53 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 53 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fogwhisk-hub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "fogwhisk-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fogwhisk
{{- end -}}

{{- define "fogwhisk-hub.selector" -}}
app.kubernetes.io/name: {{ include "fogwhisk-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: hub
{{- end -}}

{{- define "fogwhisk-hub.secretName" -}}
{{- default (include "fogwhisk-hub.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "fogwhisk-hub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* influx.url after templating. */}}
{{- define "fogwhisk-hub.influxUrl" -}}
{{- tpl .Values.influx.url . -}}
{{- end -}}

{{/* Dashboard JSON files carried by the chart: name (without .json, DNS-safe) -> path. */}}
{{- define "fogwhisk-hub.dashboardName" -}}
{{- base . | trimSuffix ".json" | lower | replace "_" "-" | replace "." "-" | trunc 40 | trimSuffix "-" -}}
{{- end -}}
