"""sops's exit codes (`cmd/sops/codes/codes.go`), the drop-in's own errors, and the map from
the core's error reasons to those codes and to sops's wording."""

from __future__ import annotations

from secrets_kit.errors import SecretsKitError
from secrets_kit.sops.reasons import Reason

GENERIC = 1
COULD_NOT_READ_INPUT = 2
COULD_NOT_WRITE_OUTPUT = 3
ERROR_DUMPING_TREE = 4
ERROR_READING_CONFIG = 5
INVALID_KMS_ENCRYPTION_CONTEXT = 6
INVALID_SET_FORMAT = 7
CONFLICTING_PARAMETERS = 8
ERROR_ENCRYPTING_MAC = 21
ERROR_ENCRYPTING_TREE = 23
ERROR_DECRYPTING_MAC = 24
ERROR_DECRYPTING_TREE = 25
CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE = 49
MAC_MISMATCH = 51
MAC_NOT_FOUND = 52
CONFIG_FILE_NOT_FOUND = 61
KEYBOARD_INTERRUPT = 85
INVALID_TREE_PATH_FORMAT = 91
NEED_AT_LEAST_ONE_DOCUMENT = 92
NO_FILE_SPECIFIED = 100
COULD_NOT_RETRIEVE_KEY = 128
NO_ENCRYPTION_KEY_FOUND = 111
DUPLICATE_DECRYPTION_KEY_TYPE = 112
FILE_HAS_NOT_BEEN_MODIFIED = 200
NO_EDITOR_FOUND = 201
FAILED_TO_COMPARE_VERSIONS = 202
FILE_ALREADY_ENCRYPTED = 203

# What sops exits with for each reason the core gives; an error without a reason is generic (1),
# as sops's `toExitError` makes every error that is not an ExitError.
REASON_CODES: dict[str, int] = {
    Reason.MALFORMED_INPUT: COULD_NOT_READ_INPUT,
    Reason.MALFORMED_SOPS_FILE: GENERIC,  # sops returns a load error while decrypting as is
    Reason.NO_METADATA: GENERIC,
    Reason.CANNOT_EMIT: ERROR_DUMPING_TREE,
    Reason.EMPTY_FILE: NEED_AT_LEAST_ONE_DOCUMENT,
    Reason.ALREADY_ENCRYPTED: FILE_ALREADY_ENCRYPTED,
    Reason.ENCRYPT_FAILED: ERROR_ENCRYPTING_TREE,
    Reason.DECRYPT_FAILED: ERROR_DECRYPTING_TREE,
    Reason.MAC_ENCRYPT_FAILED: ERROR_ENCRYPTING_MAC,
    Reason.MAC_MISMATCH: MAC_MISMATCH,
    Reason.NO_DATA_KEY: COULD_NOT_RETRIEVE_KEY,
    Reason.DATA_KEY_NOT_WRAPPED: GENERIC,
    Reason.DUPLICATE_DECRYPTION_ORDER: DUPLICATE_DECRYPTION_KEY_TYPE,
    Reason.CONFLICTING_RULES: CONFLICTING_PARAMETERS,
    Reason.BAD_ENCRYPTION_CONTEXT: INVALID_KMS_ENCRYPTION_CONTEXT,
    Reason.VERSION_NOT_COMPARABLE: FAILED_TO_COMPARE_VERSIONS,
    Reason.KEY_NOT_FOUND: GENERIC,
}


class SopsError(SecretsKitError):
    """An error of the drop-in itself (command line, files), with the exit code sops gives it."""

    def __init__(self, message: str, code: int = GENERIC, *, where: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, where=where, hint=hint)
        self.code = code


def exit_code_for(err: SecretsKitError) -> int:
    if isinstance(err, SopsError):
        return err.code
    return REASON_CODES.get(err.reason or "", GENERIC)


def message_for(err: SecretsKitError) -> str:
    """The one line sops would print: sops's own text where its tests and scripts read it."""
    if err.reason == Reason.DATA_KEY_NOT_WRAPPED:
        # encrypt.go/rotate.go: fmt.Errorf("Could not generate data key: %s", errs), a Go slice.
        return f"Could not generate data key: [{err.message}]"
    return " ".join(str(err).split())
