"""The render step's only door into the SOPS core: decrypt one file's bytes in memory.

Two calls of `secrets_kit.sops`: `ops.decrypt_bytes` (a file to plaintext bytes) and
`ops.SopsFile` (a structured file to its encrypted and its decrypted documents from one
parse, so the render step never parses a file twice).
"""

from __future__ import annotations

from typing import Any

from ..errors import DecryptionError, SecretsKitError


def decrypt_bytes(data: bytes, fmt: str, *, source: str) -> bytes:
    """The plaintext of a SOPS-encrypted file (`fmt`: yaml, json, dotenv, ini, binary), MAC verified.

    Nothing is written to disk. Errors keep the SOPS core's message and class (so the
    toolkit's exit code) and name `source`.
    """
    from ..sops import ops
    from ..sops.stores import store_for

    try:
        return ops.decrypt_bytes(data, store_for(fmt))
    except SecretsKitError as err:
        raise err.at(source) from None
    except (ValueError, KeyError, TypeError, IndexError) as ex:  # a corrupt file the core did not classify
        raise DecryptionError(f"cannot decrypt: {type(ex).__name__}", where=source) from None


def decrypt_documents(data: bytes, fmt: str, *, source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(encrypted documents, each with its `sops` block; decrypted documents) of a YAML/JSON file, MAC verified."""
    from ..sops import ops
    from ..sops.metadata import metadata_to_dict
    from ..sops.stores import store_for
    from ..sops.tree import to_plain

    try:
        opened = ops.SopsFile.load(data, store_for(fmt))
        encrypted = [to_plain(branch) for branch in opened.branches]
        opened.decrypt()
        plain = [to_plain(branch) for branch in opened.branches]
        block = metadata_to_dict(opened.metadata)
    except SecretsKitError as err:
        raise err.at(source) from None
    except (ValueError, KeyError, TypeError, IndexError) as ex:
        raise DecryptionError(f"cannot decrypt: {type(ex).__name__}", where=source) from None
    for doc in (*encrypted, *plain):
        if not isinstance(doc, dict):
            raise DecryptionError("a document of this SOPS file is not a mapping", where=source)
    return [{**doc, "sops": block} for doc in encrypted], plain
