"""Seal before commit: the pre-commit guard that keeps plaintext secrets out of Git.

`checks` decides what a file must not hold (plaintext Secrets, unencrypted secretGenerator
inputs, files `.sops.yaml` says must be encrypted); `fixes` builds the commands that fix a
finding from the repository's own settings; `git` reads the repository (staged files,
tracked `.sops.yaml` files, the hooks folder); `scan` runs one check, as the hook is called.
"""
