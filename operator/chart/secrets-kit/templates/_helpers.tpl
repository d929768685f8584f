{{/* Names. The sealed controller keeps kubeseal's default name; the rest is named after the release. */}}
{{- define "secrets-kit.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "secrets-kit.sealed.name" -}}{{ .Values.sealedSecrets.name }}{{- end -}}
{{- define "secrets-kit.sealed.account" -}}
{{- default .Values.sealedSecrets.name .Values.sealedSecrets.serviceAccount.name -}}
{{- end -}}
{{- define "secrets-kit.external.name" -}}
{{- default (printf "%s-external-secrets" (include "secrets-kit.fullname" .)) .Values.externalSecrets.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "secrets-kit.external.account" -}}
{{- default (include "secrets-kit.external.name" .) .Values.externalSecrets.serviceAccount.name -}}
{{- end -}}

{{/* Where the ExternalSecret controller runs: "own" (its Deployment), "sealed" (the sealed controller's
process), "" (nowhere). */}}
{{- define "secrets-kit.external.runs" -}}
{{- if .Values.externalSecrets.enabled -}}{{ ternary "own" "sealed" .Values.externalSecrets.ownDeployment }}{{- end -}}
{{- end -}}
{{/* The ServiceAccount its RBAC is bound to ("" when none is granted), and that account's component name. */}}
{{- define "secrets-kit.external.rbacAccount" -}}
{{- $grant := or .Values.externalSecrets.enabled .Values.externalSecrets.rbac.grantWhenDisabled -}}
{{- if and $grant .Values.externalSecrets.rbac.create -}}
{{- if .Values.externalSecrets.ownDeployment -}}{{ include "secrets-kit.external.account" . }}{{- else -}}{{ include "secrets-kit.sealed.account" . }}{{- end -}}
{{- end -}}
{{- end -}}
{{- define "secrets-kit.external.rbacComponent" -}}
{{- if .Values.externalSecrets.ownDeployment -}}{{ include "secrets-kit.external.name" . }}{{- else -}}{{ include "secrets-kit.sealed.name" . }}{{- end -}}
{{- end -}}
{{/* Leader election (own Deployment only): "auto" means more than one replica and no shards. With
grantWhenDisabled its Role is granted too, for the day the account runs the controller alone. */}}
{{- define "secrets-kit.external.leaderElection" -}}
{{- $e := .Values.externalSecrets -}}
{{- if eq (toString $e.leaderElection) "auto" -}}
{{- and (gt (int $e.replicas) 1) (eq (int $e.shards) 1) -}}
{{- else -}}
{{- $e.leaderElection -}}
{{- end -}}
{{- end -}}

{{/* Labels: the component's name, part-of, the Helm ones (labels.helm), labels.extra. Call with
(dict "root" $ "name" NAME ["component" C]). */}}
{{- define "secrets-kit.labels" -}}
{{- $v := .root.Values -}}
name: {{ .name }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: secrets-kit
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- if $v.labels.helm }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end }}
{{- with $v.labels.extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* `--flag=value` for every key of a map, sorted by flag name. Whole numbers print as integers (YAML
numbers arrive as float64, which %v would print as 1e+07). */}}
{{- define "secrets-kit.flags" -}}
{{- range $flag, $value := . }}
{{- if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
{{- $value = int64 $value }}
{{- end }}
- {{ printf "--%s=%v" $flag $value | toJson }}
{{- end }}
{{- end -}}

{{- define "secrets-kit.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Pod template both Deployments use. Call with (dict "root" $ "name" NAME "values" CONTROLLER-VALUES
"account" SA "command" LIST "ports" LIST). */}}
{{- define "secrets-kit.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $c := .values -}}
metadata:
  labels:
    {{- include "secrets-kit.labels" (dict "root" $root "name" .name) | nindent 4 }}
    {{- with (merge (deepCopy $c.podLabels) $v.podLabels) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with (merge (deepCopy $c.podAnnotations) $v.podAnnotations) }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ .account }}
  automountServiceAccountToken: true  # the controller calls the API server with this account
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (default $v.priorityClassName $c.priorityClassName) }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- with (default $v.nodeSelector $c.nodeSelector) }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (default $v.tolerations $c.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (default $v.affinity $c.affinity) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: controller
      image: {{ include "secrets-kit.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command:
        {{- toYaml .command | nindent 8 }}
      env:
        - name: POD_NAMESPACE  # the sealing keys' and the Leases' namespace, as upstream reads it
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- with $c.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        {{- toYaml .ports | nindent 8 }}
      livenessProbe:
        {{- toYaml $c.livenessProbe | nindent 8 }}
      readinessProbe:
        {{- toYaml $c.readinessProbe | nindent 8 }}
      startupProbe:
        {{- toYaml $c.startupProbe | nindent 8 }}
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp  # the root filesystem is read-only; nothing secret is written here
      emptyDir:
        medium: Memory
        sizeLimit: 16Mi
{{- end -}}

{{/* Insert the chart's annotations into a CRD file's top-level metadata, keeping the file's text. */}}
{{- define "secrets-kit.crd" -}}
{{- $root := index . 0 -}}
{{- $text := $root.Files.Get (index . 1) -}}
{{- if not $text }}{{ fail (printf "the chart lacks %s" (index . 1)) }}{{ end -}}
{{- $annotations := deepCopy $root.Values.crds.annotations -}}
{{- if $root.Values.crds.keep }}{{ $_ := set $annotations "helm.sh/resource-policy" "keep" }}{{ end -}}
{{- if $annotations -}}
{{- $text = replace "\nmetadata:\n" (printf "\nmetadata:\n  annotations:\n%s\n" (toYaml $annotations | indent 4)) $text -}}
{{- end -}}
{{ $text }}
{{- end -}}
