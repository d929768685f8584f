"""The `secrets-kit` command line (import name: secrets_kit_cli)."""
