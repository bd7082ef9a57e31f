{{- define "ieo.name" -}}inference-exposure-operator{{- end -}}

{{- define "ieo.fullname" -}}
{{- if contains "inference-exposure" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-inference-exposure" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "ieo.labels" -}}
app.kubernetes.io/name: {{ include "ieo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ieo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ieo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ieo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "ieo.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}
