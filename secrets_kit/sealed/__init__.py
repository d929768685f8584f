"""Sealed Secrets, byte-compatible with Bitnami's controller and kubeseal.

crypto (the hybrid RSA-OAEP + AES-GCM format) -> scopes (OAEP labels) -> model (the
SealedSecret: seal, unseal, edit, re-encrypt) -> batch (folders, all or nothing).
Keys and certificates: keys, certs, keyfiles; where certificates come from: fetch,
registry, targets; kubeseal's command-line behaviour: kubeseal.
"""
