"""External Secrets Operator compatibility, as pure core code: ESO's `external-secrets.io` manifests →
provider reads → rewrite/decode → template → creation/deletion policy → the Secret, status and events
to write. No kopf, no Kubernetes client: the operator's runtime decides when, this package decides what.
"""
