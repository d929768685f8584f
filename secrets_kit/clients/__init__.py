"""Cloud clients, one module per cloud: Vault (`vault`), AWS (`aws`), Google Cloud (`gcp`).

Each module builds its sessions (address or region, TLS, timeouts, credentials and logins)
and maps its library's errors to `secrets_kit.errors` in one place, with the shared
vocabulary of `failure.Kind`. SOPS key sources, render providers and the operator's
providers all use them. The objects are meant to be built once and kept (the operator
holds one per SecretStore across reconciles).

Nothing here imports a cloud library at import time: `extras.require` does, when a client
is built, and names the `pip install 'secrets-kit[...]'` that adds a missing one.
"""
