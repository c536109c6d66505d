{{/*
Names and labels shared by every object of the chart.
*/}}

{{/* The name of every object: the release name when it says weft, else RELEASE-weft. */}}
{{- define "weft.fullname" -}}
{{- if contains "weft" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-weft" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the agent pods: never change them in an upgrade. */}}
{{- define "weft.selectorLabels" -}}
app.kubernetes.io/name: weft
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "weft.labels" -}}
{{ include "weft.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: weft
{{- end -}}

{{- define "weft.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The pod MTU: the value, else 1450 under VXLAN (50 header bytes), else 1500. */}}
{{- define "weft.mtu" -}}
{{- if .Values.mtu -}}
{{- .Values.mtu -}}
{{- else if eq .Values.routing "vxlan" -}}
1450
{{- else -}}
1500
{{- end -}}
{{- end -}}

{{- define "weft.socket" -}}
{{- printf "%s/cni.sock" (trimSuffix "/" .Values.socketDir) -}}
{{- end -}}
