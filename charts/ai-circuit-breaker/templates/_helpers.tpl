{{/*
Names, labels, images and the TLS material shared by the templates.
*/}}

{{- define "aicb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource. Kept to 40 characters so that "<fullname>-controller"
and friends stay valid names and DNS labels.
*/}}
{{- define "aicb.fullname" -}}
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

{{- define "aicb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aicb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aicb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels; pass a dict with "ctx" (the root context) and "component". */}}
{{- define "aicb.labels" -}}
helm.sh/chart: {{ include "aicb.chart" .ctx }}
{{ include "aicb.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: ai-circuit-breaker
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{- define "aicb.controllerSelectorLabels" -}}
{{ include "aicb.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "aicb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller" (include "aicb.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aicb.controllerServiceName" -}}
{{- printf "%s-controller" (include "aicb.fullname" .) }}
{{- end }}

{{- define "aicb.webhookServiceName" -}}
{{- printf "%s-webhook" (include "aicb.fullname" .) }}
{{- end }}

{{- define "aicb.tlsSecretName" -}}
{{- printf "%s-tls" (include "aicb.fullname" .) }}
{{- end }}

{{/* repository:tag or repository@digest; pass a dict with "image" and "fallback" images. */}}
{{- define "aicb.imageRef" -}}
{{- $repository := default .fallback.repository .image.repository }}
{{- $digest := default .fallback.digest .image.digest }}
{{- if $digest }}
{{- printf "%s@%s" $repository $digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .appVersion (default .fallback.tag .image.tag)) }}
{{- end }}
{{- end }}

{{- define "aicb.image" -}}
{{- include "aicb.imageRef" (dict "image" .Values.image "fallback" .Values.image "appVersion" .Chart.AppVersion) }}
{{- end }}

{{- define "aicb.sidecarImage" -}}
{{- include "aicb.imageRef" (dict "image" .Values.sidecar.image "fallback" .Values.image "appVersion" .Chart.AppVersion) }}
{{- end }}

{{/* Namespaces the webhook never touches, as a JSON list (system, the release's, extras). */}}
{{- define "aicb.excludedNamespaces" -}}
{{- concat (list "kube-system" "kube-public" "kube-node-lease" .Release.Namespace) .Values.webhook.excludedNamespaces | uniq | toJson }}
{{- end }}

{{/* The controller's delivery URL as sidecars use it. */}}
{{- define "aicb.controllerUrl" -}}
{{- printf "https://%s.%s.svc:15402" (include "aicb.controllerServiceName" .) .Release.Namespace }}
{{- end }}

{{/* DNS names of the one certificate that serves both Services. */}}
{{- define "aicb.tlsDnsNames" -}}
{{- $ns := .Release.Namespace }}
{{- $names := list }}
{{- range $svc := list (include "aicb.controllerServiceName" .) (include "aicb.webhookServiceName" .) }}
{{- $names = append $names (printf "%s.%s.svc" $svc $ns) }}
{{- $names = append $names (printf "%s.%s.svc.%s" $svc $ns $.Values.tls.clusterDomain) }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
The chart-generated TLS material (certManager.enabled=false), as YAML with base64 values
"ca", "cert" and "key". Generated once per render and memoized on the root context, so the
Secret, the webhook's caBundle and the injector's caBundle agree; an existing Secret (lookup,
on upgrade) is kept. `helm template` and client dry runs cannot look up, so they always show
fresh material.
*/}}
{{- define "aicb.generatedTls" -}}
{{- if not (hasKey $ "aicbGeneratedTls") }}
{{- $tls := dict }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "aicb.tlsSecretName" .) }}
{{- $data := dig "data" dict $existing }}
{{- if and (hasKey $data "ca.crt") (hasKey $data "tls.crt") (hasKey $data "tls.key") }}
{{- $_ := set $tls "ca" (index $data "ca.crt") }}
{{- $_ := set $tls "cert" (index $data "tls.crt") }}
{{- $_ := set $tls "key" (index $data "tls.key") }}
{{- else }}
{{- $days := int .Values.tls.validityDays }}
{{- $ca := genCA (printf "%s-ca" (include "aicb.fullname" .)) $days }}
{{- $dnsNames := include "aicb.tlsDnsNames" . | fromJsonArray }}
{{- $cert := genSignedCert (first $dnsNames) nil $dnsNames $days $ca }}
{{- $_ := set $tls "ca" ($ca.Cert | b64enc) }}
{{- $_ := set $tls "cert" ($cert.Cert | b64enc) }}
{{- $_ := set $tls "key" ($cert.Key | b64enc) }}
{{- end }}
{{- $_ := set $ "aicbGeneratedTls" $tls }}
{{- end }}
{{- toYaml (get $ "aicbGeneratedTls") }}
{{- end }}

{{/* The CA bundle (base64 PEM) for the webhook configuration; empty with cert-manager. */}}
{{- define "aicb.caBundleB64" -}}
{{- if not .Values.certManager.enabled }}
{{- (include "aicb.generatedTls" . | fromYaml).ca }}
{{- end }}
{{- end }}

{{/* The injector's settings file (config.json), read by the controller. */}}
{{- define "aicb.injectorConfig" -}}
{{- $caBundle := "" }}
{{- with include "aicb.caBundleB64" . }}
{{- $caBundle = b64dec . }}
{{- end }}
{{- $config := dict
  "image" (include "aicb.sidecarImage" .)
  "imagePullPolicy" .Values.sidecar.image.pullPolicy
  "controllerUrl" (include "aicb.controllerUrl" .)
  "caBundle" $caBundle
  "resources" .Values.sidecar.resources
  "excludedNamespaces" (include "aicb.excludedNamespaces" . | fromJsonArray)
  "nodeOptions" .Values.sidecar.nodeOptions
  "logLevel" .Values.sidecar.logLevel
}}
{{- toPrettyJson $config }}
{{- end }}

{{/* Fields both injector webhooks share. */}}
{{- define "aicb.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
failurePolicy: {{ .Values.webhook.failurePolicy }}
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
reinvocationPolicy: IfNeeded
matchPolicy: Equivalent
rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["pods"]
    scope: Namespaced
{{- end }}
