"""`secrets-kit sops` and `secrets-kit-sops`: a drop-in for the sops 3.13 command line.

Subcommands (`encrypt`, `decrypt`, `edit`, `rotate`, `set`, `unset`, `updatekeys`,
`exec-env`, `exec-file`, `filestatus`, `groups add|delete`) and the legacy flag form
(`-e`, `-d`, `-r`, `-i`, `--set`, bare `FILE` = edit), the same flags and environment
variables, sops's error texts where scripts and sops's own tests read them, and sops's
exit codes, so `alias sops='secrets-kit sops'` and `HELM_SECRETS_SOPS_PATH` work. Beyond
sops: `updatekeys` and `rotate` take directories (every sops file below, with a progress
bar), and re-encrypting keeps unchanged values' ciphertext.

Modules by role: `args` (the command line), `context` (what a command runs with: config,
stores, keys), `streams` (stdin/stdout and files), `commands`, `keycommands`, `edit`,
`help`, `codes` (exit codes, and core reasons mapped to them), `main` (entry points).
Nothing here imports click before a command runs: `secrets-kit sops` starts as fast as
`secrets-kit-sops`.
"""

SOPS_COMPAT_VERSION = "3.13.3"
