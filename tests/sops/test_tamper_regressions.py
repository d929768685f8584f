"""The tamperings the matrix found (ours accepted them, the real sops 3.13.3 refused), as
peer-free regressions: each named mutation of `tamper_mutations` on a file we encrypt.

The expected outcome of each is what the real sops gave in `test_tamper_matrix` (which
checks it against the binary on every run); here it holds without the binary too.
"""

from __future__ import annotations

import pyrage
import pytest
from secrets_kit_cli.dropins.sops.codes import exit_code_for

from secrets_kit.errors import DecryptionError, InputError, SecretsKitError
from secrets_kit.sops.keysources.age import AgeKey
from secrets_kit.sops.ops import EncryptOptions, MacMismatch, decrypt_bytes, encrypt_bytes
from secrets_kit.sops.reasons import Reason
from secrets_kit.sops.stores import store_for

from .tamper_mutations import MARK, PLAIN, mutations

# (format, mutation name, error class or None when sops accepts, sops's exit code)
CASES = [
    ("yaml", "type:comment->str#0", MacMismatch, 51),  # the decrypted "comment" is hashed like a value
    ("yaml", "type:comment->bytes#0", DecryptionError, 25),  # sops crashes on any bytes value
    ("yaml", "type:str->time#1", DecryptionError, 25),  # the plaintext is no RFC 3339 time
    ("json", "type:str->bytes#0", DecryptionError, 25),
    ("ini", "type:comment->bytes#0", DecryptionError, 25),
    ("yaml", "trailing:bracket", DecryptionError, 25),  # `type:str]x]` is the type `str]x`
    ("dotenv", "trailing:text", None, 0),  # sops's pattern has no `$`
    ("yaml", "lastmodified:lowercase-z", InputError, 1),
    ("ini", "lastmodified:lowercase-t", InputError, 1),
    ("yaml", "lastmodified:unquoted", InputError, 1),  # a YAML timestamp, not a string
    ("json", "lastmodified:fraction-comma", None, 0),  # Go accepts a comma before the fraction
    ("yaml", "lastmodified:offset-zero", None, 0),  # formats back to the same `Z` AAD
    ("yaml", "lastmodified:same-instant-plus-one-hour", MacMismatch, 51),  # keeps its offset: another AAD
    ("binary", "add:encrypted_regex=^nomatch$", MacMismatch, 51),  # the metadata's rules apply to binary too
    ("binary", "add:encrypted_comment_regex=.", MacMismatch, 51),
    ("binary", "mac_only_encrypted:true", MacMismatch, 51),
    ("yaml", "add:unencrypted_regex=(", DecryptionError, 25),  # a pattern that does not compile matches nothing
    ("json", "add:encrypted_regex=(", MacMismatch, 51),
    ("yaml", "comment:swap-paths", None, 0),  # kept as ciphertext, never decrypted at another path
]


def _encrypted(fmt: str, recipient: str) -> str:
    store = store_for(fmt)
    return encrypt_bytes(PLAIN[fmt], store, store, EncryptOptions(key_groups=[[AgeKey(recipient)]])).decode()


@pytest.mark.parametrize(("fmt", "name", "error", "code"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_tampering_as_sops_decides(fmt: str, name: str, error: type[SecretsKitError] | None, code: int,
                                   age_id) -> None:
    base = _encrypted(fmt, age_id.recipient)
    other = str(pyrage.x25519.Identity.generate().to_public())
    mutation = next(m for m in mutations(fmt, base, other) if m.name == name)
    changed = mutation.apply(base)
    assert changed is not None and changed != base
    store = store_for(fmt)
    if error is None:
        out = decrypt_bytes(changed.encode(), store, store)
        if name == "comment:swap-paths":
            assert out.count(b"#ENC[AES256_GCM,") == 2 and MARK.encode() + b"-c1" not in out
        return
    with pytest.raises(error) as info:
        decrypt_bytes(changed.encode(), store, store)
    assert exit_code_for(info.value) == code
    assert MARK not in str(info.value)
    if error is DecryptionError:
        assert info.value.reason == Reason.DECRYPT_FAILED
