"""The ExternalSecret controller's runtime (an External-Secrets-Operator-compatible controller).

The sync engine is pure core code (`secrets_kit.externalsecrets`); this package decides *when*: kopf
low-level handlers and our own label-filtered Secret informer feed a bounded de-duplicating work
queue, N workers reconcile, refreshes are scheduled with jitter, and the adapter writes only what
changed.
"""
