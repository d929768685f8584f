"""Why a SOPS operation failed, as `SecretsKitError.reason`.

The core names what went wrong; each front door decides what that means for it: the `sops`
drop-in maps a reason to sops's exit code (`secrets_kit_cli.dropins.sops.exitcodes`), the
render step keeps the error class's toolkit code. An error without a reason is a generic one.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    MALFORMED_INPUT = "malformed-input"  # a plain file does not parse (YAML, JSON, dotenv, INI)
    MALFORMED_SOPS_FILE = "malformed-sops-file"  # an encrypted file does not parse
    NO_METADATA = "no-metadata"  # the file has no (usable) sops metadata
    CANNOT_EMIT = "cannot-emit"  # the tree cannot be written in the output format
    EMPTY_FILE = "empty-file"  # no document to encrypt
    ALREADY_ENCRYPTED = "already-encrypted"  # the input already has sops metadata
    ENCRYPT_FAILED = "encrypt-failed"  # a value of the tree could not be encrypted
    DECRYPT_FAILED = "decrypt-failed"  # a value did not decrypt: tampered, moved, other data key
    MAC_ENCRYPT_FAILED = "mac-encrypt-failed"
    MAC_MISMATCH = "mac-mismatch"  # the MAC does not match, or cannot be decrypted
    NO_DATA_KEY = "no-data-key"  # no key group gave up the data key (no identity, quorum not met)
    DATA_KEY_NOT_WRAPPED = "data-key-not-wrapped"  # a new data key could not be wrapped (empty group, bad key)
    DUPLICATE_DECRYPTION_ORDER = "duplicate-decryption-order"
    CONFLICTING_RULES = "conflicting-rules"  # more than one of the six selection rules
    BAD_ENCRYPTION_CONTEXT = "bad-encryption-context"  # an AWS KMS context that is not k:v pairs
    VERSION_NOT_COMPARABLE = "version-not-comparable"  # sops.version is not semver (on edit)
    KEY_NOT_FOUND = "key-not-found"  # a tree path names no value
