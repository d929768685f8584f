"""Help texts: the drop-in's general help, and one per subcommand (`secrets-kit sops encrypt --help`),
each naming the flags that command takes, as `sops COMMAND --help` does."""

from __future__ import annotations

from . import SOPS_COMPAT_VERSION

HELP = f"""\
Usage: secrets-kit sops [global flags] COMMAND [flags] FILE ...
       secrets-kit sops [-e|-d|-r|--set '["k"] "v"'] [flags] FILE     (legacy form; bare FILE = edit)

A drop-in for sops {SOPS_COMPAT_VERSION}: same commands, flags, environment variables, file format and
exit codes. Use it with `alias sops='secrets-kit sops'` or a two-line wrapper script for
HELM_SECRETS_SOPS_PATH.

Commands:
  encrypt [FILE]          encrypt a file (stdin with --filename-override) to stdout, --output or -i
  decrypt [FILE]          decrypt to stdout (--extract '["key"][0]', --output, -i, --ignore-mac)
  edit FILE               decrypt into $SOPS_EDITOR/$EDITOR and re-encrypt what changed
  set FILE INDEX VALUE    set a value (JSON); --value-file, --value-stdin, --idempotent
  unset FILE INDEX        remove a key; --idempotent
  rotate FILE|DIR         new data key; --add-age/--rm-age/... ; a directory rotates every sops file in it
  updatekeys FILE|DIR...  re-wrap the data key for the keys of .sops.yaml (-y: no prompt)
  exec-env FILE CMD       run CMD with the decrypted top-level values as environment variables
  exec-file FILE CMD      run CMD with {{}} replaced by a FIFO (or --no-fifo temp file) of the plaintext
  filestatus FILE         print {{"encrypted":true|false}}
  groups add|delete       add or delete a key group (--file, -i, --age, --pgp, ...)

Key flags (comma lists; env var in brackets):
  -a, --age [SOPS_AGE_RECIPIENTS]   -p, --pgp [SOPS_PGP_FP]   -k, --kms [SOPS_KMS_ARN]
  --gcp-kms [SOPS_GCP_KMS_IDS]      --hc-vault-transit [SOPS_VAULT_URIS]
  --aws-profile, --encryption-context k:v,...   --shamir-secret-sharing-threshold N
Other flags: --input-type/--output-type yaml|json|dotenv|ini|binary, --config [SOPS_CONFIG],
  --filename-override, --indent, --decryption-order [SOPS_DECRYPTION_ORDER],
  --unencrypted-suffix, --encrypted-suffix, --unencrypted-regex, --encrypted-regex.
Beyond sops (whose CLI sets these only through .sops.yaml): --unencrypted-comment-regex,
  --encrypted-comment-regex, --mac-only-encrypted, --progress.

Identities: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, ~/.config/sops/age/keys.txt,
  SOPS_AGE_SSH_PRIVATE_KEY_FILE; GnuPG keyring (GNUPGHOME); cloud credentials for KMS/Vault.
  SECRETS_KIT_SOPS_LAYOUT=3.11 writes the older metadata key order (every writing subcommand).

Exit codes are sops's: 1 generic, 2 unreadable input, 3 unwritable output, 8 conflicting flags,
  25 a value failed to decrypt, 51 MAC mismatch, 91 bad --extract path, 92 empty file,
  100 no such file, 128 data key not recovered, 200 file not modified, 203 already encrypted.
"""

_KEYS = """Key flags (comma lists; env var in brackets):
  -a, --age [SOPS_AGE_RECIPIENTS]   -p, --pgp [SOPS_PGP_FP]   -k, --kms [SOPS_KMS_ARN]
  --gcp-kms [SOPS_GCP_KMS_IDS]      --hc-vault-transit [SOPS_VAULT_URIS]
  --aws-profile PROFILE             --encryption-context k:v,...
  --shamir-secret-sharing-threshold N
"""
_TYPES = """  --input-type, --output-type yaml|json|dotenv|ini|binary (default: from the file name)
  --config FILE [SOPS_CONFIG]       --decryption-order age,pgp,... [SOPS_DECRYPTION_ORDER]
"""
_RULES = """  --unencrypted-suffix S, --encrypted-suffix S, --unencrypted-regex RE, --encrypted-regex RE
  (at most one; default: values under keys ending in _unencrypted stay in clear)
"""

# name -> (arguments, what it does, its flags)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "encrypt": ("[FILE]", "Encrypt a file and print the result (or --output FILE, or -i in place). Without FILE, "
                "read stdin; --filename-override then names the file for format and .sops.yaml rules.",
                _KEYS + "Flags:\n  -i, --in-place   --output FILE   --filename-override PATH   --indent N\n"
                + _TYPES + _RULES),
    "decrypt": ("[FILE]", "Decrypt a file and print the plaintext (or --output FILE, or -i in place). Without "
                "FILE, read stdin.",
                "Flags:\n  -i, --in-place   --output FILE   --extract '[\"key\"][0]'   --ignore-mac\n"
                "  --filename-override PATH   --indent N\n" + _TYPES),
    "edit": ("FILE", "Decrypt FILE into $SOPS_EDITOR or $EDITOR, then encrypt what changed. A missing FILE "
             "starts from an example and is encrypted for the key flags or .sops.yaml.",
             _KEYS + "Flags:\n  --show-master-keys   --ignore-mac   --indent N\n" + _TYPES + _RULES),
    "set": ("FILE INDEX VALUE", "Set the value at INDEX (e.g. '[\"db\"][\"password\"]') to VALUE (JSON), "
            "in place.", "Flags:\n  --value-file (VALUE is a file)   --value-stdin   --idempotent   --ignore-mac\n"
            + _TYPES),
    "unset": ("FILE INDEX", "Remove the value at INDEX, in place.",
              "Flags:\n  --idempotent (no error if INDEX is missing)   --ignore-mac\n" + _TYPES),
    "rotate": ("FILE|DIR", "Make a new data key and encrypt every value with it; optionally add or remove keys. "
               "A folder rotates every sops file in it.",
               "Flags:\n  --add-age, --rm-age, --add-pgp, --rm-pgp, --add-kms, --rm-kms, --add-gcp-kms, "
               "--rm-gcp-kms,\n  --add-hc-vault-transit, --rm-hc-vault-transit\n"
               "  -i, --in-place   --output FILE   --ignore-mac   --progress\n" + _TYPES),
    "updatekeys": ("FILE|DIR...", "Wrap the data key for the keys that .sops.yaml names for each file (values "
                   "and MAC unchanged).", "Flags:\n  -y, --yes (no prompt)   --input-type TYPE   --config FILE   "
                   "--shamir-secret-sharing-threshold N   --progress\n"),
    "exec-env": ("FILE COMMAND", "Run COMMAND (with /bin/sh -c) with the decrypted top-level values as "
                 "environment variables.", "Flags:\n  --pristine   --same-process   --background   "
                 "--ignore-mac\n" + _TYPES),
    "exec-file": ("FILE COMMAND", "Run COMMAND with {} replaced by the path of a FIFO (or, with --no-fifo, a "
                  "private temporary file) holding the plaintext.",
                  "Flags:\n  --no-fifo   --filename NAME   --background   --ignore-mac\n" + _TYPES),
    "filestatus": ("FILE", 'Print {"encrypted":true} or {"encrypted":false}.', "Flags:\n  --input-type TYPE\n"),
    "groups": ("add|delete", "Add a key group (groups add --file FILE --age ...) or delete one (groups delete "
               "--file FILE INDEX).", "Flags:\n  -f, --file FILE   -i, --in-place   --age, --pgp, --kms, "
               "--gcp-kms, --hc-vault-transit (repeatable)\n  --shamir-secret-sharing-threshold N\n"),
}


def command_help(name: str) -> str:
    """The help of one subcommand; the general help for the legacy form or an unknown name."""
    if name not in _COMMANDS:
        return HELP
    import textwrap

    arguments, what, flags = _COMMANDS[name]
    return f"Usage: secrets-kit sops {name} [flags] {arguments}\n\n{textwrap.fill(what, 100)}\n\n{flags}"
