"""Encrypt and decrypt a whole tree in one walk, computing the MAC on the way.

The MAC is SHA-512 over the `ToBytes` form of every non-null, non-comment leaf in
document order (all of them, or with `mac_only_encrypted` only the encrypted ones after
a fixed 32-byte prefix), stored as upper-case hex (sops.go `Tree.Encrypt/Decrypt`).
"""

from __future__ import annotations

from typing import Any

# SHA-512 from `cryptography`, loaded anyway for AES-GCM: `hashlib` would load a second OpenSSL at start-up.
from cryptography.hazmat.primitives import hashes

from ..errors import DecryptionError, InputError, SecretsKitError
from .cipher import BytesValueError, Cipher, to_bytes
from .reasons import Reason
from .rules import CompiledRules
from .tree import Branch, Comment

# sha256("sops"): the MAC of a mac_only_encrypted file starts with these bytes.
MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")

_SCALARS = (str, int, float, bool, bytes)


def _where(path_prefix: str) -> str:
    return "key path " + (path_prefix.rstrip(":") or "(top level)")


def _value_error(exc: DecryptionError, aad: str) -> DecryptionError:
    """The error for a value that did not decrypt (the cipher's message names no data)."""
    return DecryptionError(f"Could not decrypt value: {exc.message}", where=_where(aad),
                           hint="the value was tampered with, moved to another key, or the file "
                                "was encrypted with another data key",
                           reason=Reason.DECRYPT_FAILED)


class TreeCrypt:
    """One encrypt or decrypt pass over all branches of a document."""

    def __init__(self, cipher: Cipher, rules: CompiledRules, mac_only_encrypted: bool) -> None:
        self.cipher = cipher
        self.rules = rules
        self.mac_only_encrypted = mac_only_encrypted
        self.hash = hashes.Hash(hashes.SHA512())
        if mac_only_encrypted:
            self.hash.update(MAC_ONLY_ENCRYPTED_INIT)

    def mac(self) -> str:
        return self.hash.copy().finalize().hex().upper()  # a copy: callable more than once, as hexdigest()

    def run(self, branches: list[Branch], encrypt: bool) -> str:
        """Encrypt or decrypt every branch in place; return the MAC (hex)."""
        for branch in branches:
            self._walk(branch, "", False, [], encrypt)
        return self.mac()

    def _should(self, any_match: bool, stack: list[list[str]], is_comment: bool) -> bool:
        rules = self.rules
        if rules.comment_regex is not None:
            return rules.encrypted_for_comments(stack, is_comment)
        if not rules.kind:
            return True
        return any_match if rules.encrypt_if_match else not any_match

    def _leaf(self, value: Any, aad: str, encrypted: bool, encrypt: bool) -> Any:
        """Encrypt or decrypt one scalar leaf; feed the MAC."""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        if encrypt:
            if not self.mac_only_encrypted or encrypted:
                self.hash.update(to_bytes(value))
            if encrypted:
                return self.cipher.encrypt(value, aad)
            return value
        plain: bytes | None = None
        if encrypted:
            if not isinstance(value, str):
                raise DecryptionError(f"Expected encrypted value as string, but got {type(value).__name__}",
                                      where=_where(aad), reason=Reason.DECRYPT_FAILED)
            try:
                value, plain = self.cipher.decrypt_with_bytes(value, aad)
            except DecryptionError as exc:
                raise _value_error(exc, aad) from None
        if (not self.mac_only_encrypted or encrypted) and not isinstance(value, Comment):
            self.hash.update(plain if plain is not None else to_bytes(value))
        return value

    def _comment(self, comment: Comment, aad: str, encrypted: bool, encrypt: bool) -> Comment:
        if not encrypted:
            return comment
        if encrypt:
            text = self.cipher.encrypt(comment, aad)
            if self.rules.comment_regex is not None and not self.rules.encrypt_if_match \
                    and self.rules.comment_regex.search(text):
                raise InputError(
                    "an encrypted comment matches unencrypted_comment_regex; make sure that regex cannot "
                    "match an encrypted comment", reason=Reason.ENCRYPT_FAILED)
            return Comment(text, comment.inline)
        try:
            plain = self.cipher.decrypt(comment.value, aad)
        except BytesValueError as exc:
            raise _value_error(exc, aad) from None
        except DecryptionError:
            # sops keeps a comment it cannot decrypt as it is (files from old versions), also one
            # moved to another path: its AAD is the path it was encrypted at, and only that.
            return comment
        if not isinstance(plain, Comment):
            # Its type was changed: sops hashes what came out like a value, so the MAC fails.
            data = to_bytes(plain)
            self.hash.update(data)
            return Comment(data.decode("utf-8", "surrogateescape"), comment.inline)
        return Comment(plain.value, comment.inline)

    def _walk(self, node: Any, aad: str, any_match: bool, stack: list[list[str]], encrypt: bool) -> Any:
        rules = self.rules
        use_stack = rules.comment_regex is not None
        decrypt_with_bytes = self.cipher.decrypt_with_bytes
        update = self.hash.update
        if isinstance(node, Branch):
            if use_stack:
                stack = [*stack, []]
            for i, (key, value) in enumerate(node):
                if isinstance(key, Comment):
                    if use_stack:
                        stack[-1].append(key.value)
                    encrypted = self._should(any_match, stack, True)
                    node[i] = (self._comment(key, aad or ":", encrypted, encrypt), value)
                    continue
                if not isinstance(key, str):
                    raise InputError(
                        f"Tree contains a non-string key (type {type(key).__name__}): {key}. "
                        "Only string keys are supported",
                        reason=Reason.ENCRYPT_FAILED if encrypt else Reason.DECRYPT_FAILED)
                child_match = any_match or (bool(rules.kind) and rules.key_matches(key))
                child_aad = aad + key + ":"
                if value.__class__ is str and not encrypt and not use_stack and value:
                    # The common case, kept short: an encrypted string value.
                    if self._should(child_match, stack, False):
                        try:
                            value, plain = decrypt_with_bytes(value, child_aad)
                        except DecryptionError as exc:
                            raise _value_error(exc, child_aad) from None
                        node[i] = (key, value)
                        if value.__class__ is not Comment:
                            update(plain if plain is not None else to_bytes(value))
                    elif not self.mac_only_encrypted:
                        update(value.encode("utf-8", "surrogateescape"))
                    continue
                if value is None:
                    pass
                elif isinstance(value, list):
                    self._walk(value, child_aad, child_match, stack, encrypt)
                elif isinstance(value, _SCALARS):
                    node[i] = (key, self._leaf(value, child_aad, self._should(child_match, stack, False), encrypt))
                elif isinstance(value, Comment):
                    node[i] = (key, self._comment(value, child_aad, self._should(child_match, stack, True), encrypt))
                else:
                    raise InputError(f"Cannot walk value, unknown type: {type(value).__name__}",
                                     where=_where(child_aad))
                if use_stack:
                    stack[-1] = []
            return node
        if isinstance(node, list):
            if use_stack:
                stack = [*stack, []]
            for i, value in enumerate(node):
                if isinstance(value, Comment):
                    if use_stack:
                        stack[-1].append(value.value)
                    node[i] = self._comment(value, aad or ":", self._should(any_match, stack, True), encrypt)
                    continue
                if value is None:
                    pass
                elif isinstance(value, list):
                    self._walk(value, aad, any_match, stack, encrypt)
                else:
                    result = self._leaf(value, aad, self._should(any_match, stack, False), encrypt)
                    node[i] = result
                if use_stack:
                    stack[-1] = []
            return node
        raise InputError(f"Cannot walk value, unknown type: {type(node).__name__}")


def _run(branches: list[Branch], cipher: Cipher, rules: CompiledRules, mac_only_encrypted: bool,
         encrypt: bool) -> str:
    try:
        return TreeCrypt(cipher, rules, mac_only_encrypted).run(branches, encrypt)
    except SecretsKitError as exc:
        if exc.reason is None:
            exc.reason = Reason.ENCRYPT_FAILED if encrypt else Reason.DECRYPT_FAILED
        raise


def encrypt_tree(branches: list[Branch], cipher: Cipher, rules: CompiledRules, mac_only_encrypted: bool) -> str:
    """Encrypt in place; return the plaintext MAC (hex)."""
    return _run(branches, cipher, rules, mac_only_encrypted, encrypt=True)


def decrypt_tree(branches: list[Branch], cipher: Cipher, rules: CompiledRules, mac_only_encrypted: bool) -> str:
    """Decrypt in place; return the MAC computed over the plaintext (hex)."""
    return _run(branches, cipher, rules, mac_only_encrypted, encrypt=False)
