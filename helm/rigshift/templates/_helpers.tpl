{{/* Chart name, overridable. */}}
{{- define "rigshift.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it already contains the chart name, else release-chart. */}}
{{- define "rigshift.fullname" -}}
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

{{- define "rigshift.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "rigshift.labels" -}}
helm.sh/chart: {{ include "rigshift.chart" . }}
{{ include "rigshift.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: rigshift
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator's pods (immutable in the Deployment: keep them stable). */}}
{{- define "rigshift.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rigshift.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "rigshift.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rigshift.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The leader election Lease, in the release namespace. */}}
{{- define "rigshift.leaseName" -}}
{{- default (include "rigshift.fullname" .) .Values.operator.leaderElectionId }}
{{- end }}

{{- define "rigshift.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Namespaces whose MiningPools the operator honours: operator.poolNamespaces, else the release namespace. */}}
{{- define "rigshift.poolNamespaces" -}}
{{- toJson (default (list .Release.Namespace) .Values.operator.poolNamespaces) }}
{{- end }}

{{/* Namespaces where the operator writes pods: the release namespace first, then the pool namespaces (miners run
there) and rbac.workloadNamespaces. */}}
{{- define "rigshift.workloadNamespaces" -}}
{{- $all := list .Release.Namespace }}
{{- range concat (include "rigshift.poolNamespaces" . | fromJsonArray) .Values.rbac.workloadNamespaces }}
{{- if not (has . $all) }}
{{- $all = append $all . }}
{{- end }}
{{- end }}
{{- toJson $all }}
{{- end }}

{{/* Cross-field checks the JSON schema cannot express, with messages that say what to change. */}}
{{- define "rigshift.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.operator.leaderElect) }}
{{- fail (printf "replicaCount is %d but operator.leaderElect is false: several replicas without leader election would all act on the nodes; set operator.leaderElect=true or replicaCount=1" (int .Values.replicaCount)) }}
{{- end }}
{{- if ge (int .Values.priorityClasses.mining.value) (int .Values.priorityClasses.training.value) }}
{{- fail (printf "priorityClasses.mining.value (%d) must be lower than priorityClasses.training.value (%d): the scheduler preempts miners for training pods only when training has the higher priority" (int .Values.priorityClasses.mining.value) (int .Values.priorityClasses.training.value)) }}
{{- end }}
{{- range (list .Values.priorityClasses.mining.name .Values.priorityClasses.training.name) }}
{{- if hasPrefix "system-" . }}
{{- fail (printf "PriorityClass name %s is reserved: names starting with system- belong to Kubernetes" .) }}
{{- end }}
{{- end }}
{{- if eq .Values.priorityClasses.mining.name .Values.priorityClasses.training.name }}
{{- fail "priorityClasses.mining.name and priorityClasses.training.name must differ" }}
{{- end }}
{{- range .Values.rbac.workloadNamespaces }}
{{- if has . (list "kube-system" "kube-public" "kube-node-lease") }}
{{- fail (printf "rbac.workloadNamespaces must not contain %s: the operator has no business creating or deleting pods there" .) }}
{{- end }}
{{- end }}
{{- range .Values.operator.poolNamespaces }}
{{- if has . (list "kube-system" "kube-public" "kube-node-lease") }}
{{- fail (printf "operator.poolNamespaces must not contain %s: miners run in their pool's namespace" .) }}
{{- end }}
{{- end }}
{{- if and .Values.rbac.allNamespaces (gt (len .Values.rbac.workloadNamespaces) 0) }}
{{- fail "set either rbac.allNamespaces or rbac.workloadNamespaces, not both" }}
{{- end }}
{{- end }}
