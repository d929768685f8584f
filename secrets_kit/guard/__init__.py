"""Seal before commit: the pre-commit guard that keeps plaintext secrets out of Git.

`checks` decides what a file must not hold (plaintext Secrets, unencrypted secretGenerator
inputs, files `.sops.yaml` says must be encrypted); `git` reads the repository (staged
files, tracked `.sops.yaml` files, the hooks folder).
"""
