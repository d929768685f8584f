"""SOPS operations on bytes: encrypt, decrypt, set, unset, rotate, update keys, groups.

Each operation is a plain function (or a method of `SopsFile`) that takes bytes and
options and returns bytes; the CLI and the render hooks call these.
Re-encrypting an opened file keeps its data key and, through the cipher's IV stash, the
exact ciphertext of every value that did not change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .. import limits
from ..errors import DecryptionError, InputError, SecretsKitError
from .cipher import Cipher
from .crypt import decrypt_tree, encrypt_tree
from .datakey import generate_data_key, recover_data_key, wrap_groups
from .gofmt import normalize_rfc3339, now_rfc3339
from .keysources import DEFAULT_DECRYPTION_ORDER, MasterKey, key_from_stanza
from .metadata import SOPS_VERSION, Metadata, Stanza
from .reasons import Reason
from .rules import CompiledRules, SelectionRules
from .stores import Document, Store
from .tree import Branch, Path, set_value, truncate, unset_value


class EncryptOptions:
    """What a new file is encrypted with (from flags and/or a .sops.yaml creation rule)."""

    def __init__(self, key_groups: list[list[MasterKey]] | None = None, shamir_threshold: int = 0,
                 rules: SelectionRules | None = None, mac_only_encrypted: bool = False, layout: str = "3.13") -> None:
        self.key_groups: list[list[MasterKey]] = key_groups if key_groups is not None else []
        self.shamir_threshold = shamir_threshold
        self.rules = rules if rules is not None else SelectionRules()
        self.mac_only_encrypted = mac_only_encrypted
        self.layout = layout


class MacMismatch(DecryptionError):
    reason = Reason.MAC_MISMATCH


def validate_for_encryption(store: Store, doc: Document) -> None:
    if not doc.branches:
        raise InputError("File cannot be completely empty, it must contain at least one document",
                         reason=Reason.EMPTY_FILE)
    if store.has_sops_key(doc.branches[0]):
        raise InputError("File already encrypted: the file has a top-level 'sops' entry (or 'sops_' keys in "
                         "flat formats)", hint="to change an encrypted file use `edit`, `set` or `unset`",
                         reason=Reason.ALREADY_ENCRYPTED)


def _seal_mac(md: Metadata, cipher: Cipher, mac: str) -> None:
    md.lastmodified = now_rfc3339()
    try:
        md.mac = cipher.encrypt(mac, normalize_rfc3339(md.lastmodified))
    except SecretsKitError as exc:
        raise InputError(f"Could not encrypt MAC: {exc.message}", reason=Reason.MAC_ENCRYPT_FAILED) from None


def _selection(md: Metadata) -> CompiledRules:
    """The file's own rules, for every store: sops decrypts (and re-encrypts) by what the
    metadata says, a binary file too (only encrypting a new binary file ignores the rules)."""
    return md.effective_rules.compile(from_metadata=True)


def encrypt_document(doc: Document, in_store: Store, out_store: Store, opts: EncryptOptions) -> bytes:
    validate_for_encryption(out_store, doc)
    single = in_store.single_value
    rules = SelectionRules() if single else opts.rules.with_default()
    rules.validate(reason=Reason.CONFLICTING_RULES)
    md = Metadata(rules=rules, mac_only_encrypted=opts.mac_only_encrypted and not single, version=SOPS_VERSION,
                  shamir_threshold=opts.shamir_threshold)
    data_key = generate_data_key()
    md.key_groups, md.shamir_threshold = wrap_groups(data_key, opts.key_groups, opts.shamir_threshold)
    cipher = Cipher(data_key)
    mac = encrypt_tree(doc.branches, cipher, rules.compile(), md.mac_only_encrypted)
    _seal_mac(md, cipher, mac)
    return out_store.emit_encrypted(doc, md, opts.layout)


_Loaded = TypeVar("_Loaded", Document, tuple[Document, Metadata])


def _load_checked(data: bytes, load: Callable[[bytes], _Loaded]) -> _Loaded:
    """A store's load within the input limits: size before parsing, depth and values after."""
    limits.check_size(data)
    loaded = load(data)
    doc = loaded[0] if isinstance(loaded, tuple) else loaded
    limits.check_documents(doc.branches)
    return loaded


def encrypt_bytes(data: bytes, in_store: Store, out_store: Store | None, opts: EncryptOptions,
                  previous: bytes | None = None, order: Sequence[str] = DEFAULT_DECRYPTION_ORDER) -> bytes:
    """Encrypt a plaintext. With `previous` (the file this output replaces), reuse its data key
    and the ciphertext of every unchanged value when it was made for the same keys and rules."""
    doc = _load_checked(data, in_store.load_plain)
    out = out_store or in_store
    if previous is not None:
        reused = _reencrypt_like(previous, doc, in_store, out, opts, order)
        if reused is not None:
            return reused
    return encrypt_document(doc, in_store, out, opts)


def _reencrypt_like(previous: bytes, doc: Document, in_store: Store, out_store: Store, opts: EncryptOptions,
                    order: Sequence[str]) -> bytes | None:
    """Encrypt `doc` with the data key and IVs of `previous`, or None if that is not safe or possible."""
    try:
        old = SopsFile.load(previous, out_store)
    except SecretsKitError:
        return None
    md = old.metadata
    rules = SelectionRules() if in_store.single_value else opts.rules.with_default()
    same_keys = group_identifiers(md.key_groups) == [[k.identifier for k in g] for g in opts.key_groups]
    same_threshold = len(opts.key_groups) == 1 or (opts.shamir_threshold or len(opts.key_groups)) == \
        md.shamir_threshold
    if not same_keys or not same_threshold or md.effective_rules != rules or \
            md.mac_only_encrypted != (opts.mac_only_encrypted and not in_store.single_value):
        return None  # other recipients or rules: a new data key, as sops would make
    try:
        old.decrypt(order)
    except SecretsKitError:
        return None
    validate_for_encryption(out_store, doc)
    assert old.cipher is not None
    mac = encrypt_tree(doc.branches, old.cipher, rules.compile(), md.mac_only_encrypted)
    md.version = SOPS_VERSION
    _seal_mac(md, old.cipher, mac)
    return out_store.emit_encrypted(doc, md, opts.layout)


class SopsFile:
    """An encrypted file opened for reading or changing it."""

    def __init__(self, store: Store, doc: Document, metadata: Metadata) -> None:
        self.store = store
        self.doc = doc
        self.metadata = metadata
        self.data_key: bytes | None = None
        self.cipher: Cipher | None = None
        self.decrypted = False

    @classmethod
    def load(cls, data: bytes, store: Store) -> SopsFile:
        try:
            doc, md = _load_checked(data, store.load_encrypted)
        except SecretsKitError as exc:
            if exc.reason == Reason.MALFORMED_INPUT:
                exc.reason = Reason.MALFORMED_SOPS_FILE  # the same parse error, of a file read as encrypted
            raise
        return cls(store, doc, md)

    @property
    def branches(self) -> list[Branch]:
        return self.doc.branches

    def recover_key(self, order: Sequence[str] = DEFAULT_DECRYPTION_ORDER, keep_ivs: bool = True) -> bytes:
        if self.data_key is None:
            self.data_key = recover_data_key(self.metadata, order)
            self.cipher = Cipher(self.data_key, keep_ivs=keep_ivs)
        return self.data_key

    def decrypt(self, order: Sequence[str] = DEFAULT_DECRYPTION_ORDER, ignore_mac: bool = False,
                keep_ivs: bool = True) -> None:
        """Decrypt every value in place and check the MAC (sops exit 51 on a mismatch).

        `keep_ivs=False` when the file will not be encrypted again (a plain decrypt)."""
        self.check_version()
        self.recover_key(order, keep_ivs)
        assert self.cipher is not None
        md = self.metadata
        computed = decrypt_tree(self.doc.branches, self.cipher, _selection(md), md.mac_only_encrypted)
        self.decrypted = True
        if ignore_mac:
            return
        try:
            stored = self.cipher.decrypt(md.mac, normalize_rfc3339(md.lastmodified)) if md.mac else ""
        except SecretsKitError as exc:
            raise MacMismatch(f"Cannot decrypt MAC: {exc.message}",
                              hint="the MAC or lastmodified was changed; --ignore-mac skips the check") from None
        if stored != computed:
            # No digests in the message: the MAC is an unkeyed hash of the plaintext values, and a
            # prefix of it on stderr would let anyone with the log test guesses of short values.
            raise MacMismatch("MAC mismatch: the file's MAC does not match its contents" if stored
                              else "MAC mismatch: the file has no MAC",
                              hint="the file was changed outside sops; --ignore-mac skips the check")

    def check_version(self) -> None:
        """sops loads a file for decryption only if `AIsNewerThanB("2.0.10", sops.version)` can
        compare (cmd/sops/common `DetectKMSEncryptionContextBug`): a version that is missing or
        not semver fails with exit 1 before any key is tried."""
        try:
            a_is_newer_than_b("2.0.10", self.metadata.version)
        except ValueError as exc:
            raise InputError(f"cannot read sops.version {self.metadata.version!r}: {exc}", where="sops metadata",
                             hint="sops.version must be semver, e.g. 3.13.3") from None

    def reencrypt(self, new_key: bool = False, update_version: bool = False) -> None:
        """Encrypt the (decrypted, possibly changed) tree again; same data key unless `new_key`."""
        md = self.metadata
        if new_key or self.cipher is None:
            self.data_key = generate_data_key()
            self.cipher = Cipher(self.data_key)
        rules = _selection(md)
        mac = encrypt_tree(self.doc.branches, self.cipher, rules, md.mac_only_encrypted)
        _seal_mac(md, self.cipher, mac)
        if update_version:
            # sops `edit` (cmd/sops/edit.go): AIsNewerThanB(program, file); a file written by a newer
            # sops keeps its version (no refusal, no prompt, no warning); a version that is not semver
            # fails with FailedToCompareVersions (202).
            try:
                newer = a_is_newer_than_b(SOPS_VERSION, md.version)
            except ValueError as exc:
                raise InputError(f"Failed to compare document version {md.version!r} with program version "
                                 f"{SOPS_VERSION!r}: {exc}", hint="sops.version must be semver, e.g. 3.13.3",
                                 reason=Reason.VERSION_NOT_COMPARABLE) from None
            if newer:
                md.version = SOPS_VERSION
        self.decrypted = False

    def master_keys(self) -> list[list[MasterKey]]:
        """The file's key groups as master keys (to wrap a data key for them again)."""
        return [[key_from_stanza(s.kind, s.data) for s in g] for g in self.metadata.key_groups]

    def rewrap(self, groups: list[list[MasterKey]] | None = None, threshold: int | None = None) -> None:
        """Wrap the current data key for `groups` (default: the file's own keys)."""
        assert self.data_key is not None
        if groups is None:
            groups = self.master_keys()
        wanted = self.metadata.shamir_threshold if threshold is None else threshold
        if len(groups) > 1 and wanted > len(groups):
            raise InputError(f"Shamir threshold {wanted} is larger than the number of key groups ({len(groups)})")
        stanzas, final = wrap_groups(self.data_key, groups, wanted)
        self.metadata.key_groups = stanzas
        self.metadata.shamir_threshold = final

    def emit_encrypted(self, out_store: Store | None = None, layout: str = "3.13") -> bytes:
        if self.decrypted:
            raise InputError("internal error: refusing to write a decrypted tree as an encrypted file")
        return (out_store or self.store).emit_encrypted(self.doc, self.metadata, layout)

    def emit_plain(self, out_store: Store | None = None) -> bytes:
        return (out_store or self.store).emit_plain(self.doc)

    def extract(self, path: Path, out_store: Store | None = None) -> bytes:
        store = out_store or self.store
        try:
            value = truncate(self.doc.branches[0], path)
        except InputError as exc:
            raise InputError(f"error truncating tree: {exc.message}", where=exc.where) from None
        if isinstance(value, Branch):
            return store.emit_plain(Document([value]))
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        return store.emit_value(value)


_NUMERIC = re.compile(r"0|[1-9][0-9]*\Z")


def _semver(text: str) -> tuple[tuple[int, int, int], list[str]]:
    """blang/semver's `Make` (strict SemVer 2.0): MAJOR.MINOR.PATCH[-pre][+build]; ValueError otherwise."""
    if not text:
        raise ValueError("Version string empty")
    core, _, _build = text.partition("+")
    core, dash, pre = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3:
        raise ValueError("No Major.Minor.Patch elements found")
    for part in parts:
        if not part.isdigit() or not part.isascii():
            raise ValueError(f"Invalid character(s) found in version {part!r}")
        if len(part) > 1 and part.startswith("0"):
            raise ValueError(f"Version number must not contain leading zeroes {part!r}")
    prerelease = pre.split(".") if dash else []
    for ident in prerelease:
        if not ident or (ident.isdigit() and not _NUMERIC.match(ident)):
            raise ValueError(f"Invalid Prerelease string {pre!r}")
    return (int(parts[0]), int(parts[1]), int(parts[2])), prerelease


def _compare_pre(a: list[str], b: list[str]) -> int:
    if not a or not b:  # a release is newer than any of its prereleases
        return (len(a) == 0) - (len(b) == 0)
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return 1 if int(x) > int(y) else -1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return 1 if x > y else -1
    return (len(a) > len(b)) - (len(a) < len(b))


def a_is_newer_than_b(a: str, b: str) -> bool:
    """sops's `version.AIsNewerThanB`: a `1.` prefix on `b` (sops 1.x) is older; a leading `v` is ignored;
    anything else must be semver (ValueError otherwise)."""
    if b.startswith("1."):
        return True
    (core_a, pre_a), (core_b, pre_b) = _semver(a.removeprefix("v")), _semver(b.removeprefix("v"))
    if core_a != core_b:
        return core_a > core_b
    return _compare_pre(pre_a, pre_b) > 0


def open_and_decrypt(data: bytes, store: Store, order: Sequence[str] = DEFAULT_DECRYPTION_ORDER,
                     ignore_mac: bool = False, keep_ivs: bool = True) -> SopsFile:
    f = SopsFile.load(data, store)
    f.decrypt(order, ignore_mac, keep_ivs)
    return f


def decrypt_bytes(data: bytes, in_store: Store, out_store: Store | None = None,
                  order: Sequence[str] = DEFAULT_DECRYPTION_ORDER, ignore_mac: bool = False,
                  extract: Path | None = None) -> bytes:
    f = open_and_decrypt(data, in_store, order, ignore_mac, keep_ivs=False)
    if extract:
        return f.extract(extract, out_store)
    return f.emit_plain(out_store)


def set_bytes(data: bytes, store: Store, path: Path, value: Any, order: Sequence[str] = DEFAULT_DECRYPTION_ORDER,
              ignore_mac: bool = False, out_store: Store | None = None, layout: str = "3.13") -> tuple[bytes, bool]:
    """sops `set`: returns (new file, changed)."""
    f = open_and_decrypt(data, store, order, ignore_mac)
    branch, changed = set_value(f.doc.branches[0], path, value)
    f.doc.branches[0] = branch
    validate_for_encryption(out_store or store, f.doc)
    f.reencrypt()
    return f.emit_encrypted(out_store, layout), changed


def unset_bytes(data: bytes, store: Store, path: Path, order: Sequence[str] = DEFAULT_DECRYPTION_ORDER,
                ignore_mac: bool = False, out_store: Store | None = None, layout: str = "3.13") -> bytes:
    f = open_and_decrypt(data, store, order, ignore_mac)
    f.doc.branches[0] = unset_value(f.doc.branches[0], path)
    f.reencrypt()
    return f.emit_encrypted(out_store, layout)


def rotate_bytes(data: bytes, store: Store, add: Sequence[MasterKey] = (), remove: Sequence[MasterKey] = (),
                 order: Sequence[str] = DEFAULT_DECRYPTION_ORDER, ignore_mac: bool = False,
                 out_store: Store | None = None, layout: str = "3.13") -> bytes:
    """sops `rotate`: a new data key, every value re-encrypted; optionally add/remove keys."""
    f = open_and_decrypt(data, store, order, ignore_mac, keep_ivs=False)  # a new key: no IV is kept
    groups = f.master_keys()
    if add:
        groups[0].extend(add)
    removed = {k.identifier for k in remove}
    if removed:
        groups = [[k for k in g if k.identifier not in removed] for g in groups]
    f.reencrypt(new_key=True)
    f.rewrap(groups)
    return f.emit_encrypted(out_store, layout)


def group_identifiers(groups: Sequence[Sequence[Stanza]] | Sequence[Sequence[MasterKey]]) -> list[list[str]]:
    result = []
    for g in groups:
        ids = []
        for k in g:
            if isinstance(k, Stanza):
                ids.append(key_from_stanza(k.kind, k.data).identifier)
            else:
                ids.append(k.identifier)
        result.append(ids)
    return result


class KeyDiff:
    def __init__(self, common: list[str], added: list[str], removed: list[str]) -> None:
        self.common = common
        self.added = added
        self.removed = removed


def diff_groups(ours: list[list[str]], theirs: list[list[str]]) -> list[KeyDiff]:
    diffs = []
    for i in range(max(len(ours), len(theirs))):
        a = ours[i] if i < len(ours) else []
        b = theirs[i] if i < len(theirs) else []
        diffs.append(KeyDiff([k for k in b if k in a], [k for k in b if k not in a], [k for k in a if k not in b]))
    return diffs


def update_keys_bytes(data: bytes, store: Store, groups: list[list[MasterKey]], threshold: int = 0,
                      order: Sequence[str] = DEFAULT_DECRYPTION_ORDER,
                      layout: str = "3.13") -> tuple[bytes | None, list[KeyDiff], int, int]:
    """sops `updatekeys`: re-wrap the same data key for the configured groups.

    Returns (new bytes or None when already up to date, diffs, old threshold, new threshold).
    The values are not touched (the MAC does not cover the metadata)."""
    f = SopsFile.load(data, store)
    old_ids = group_identifiers(f.metadata.key_groups)
    new_ids = group_identifiers(groups)
    diffs = diff_groups(old_ids, new_ids)
    old_threshold = f.metadata.shamir_threshold
    new_threshold = threshold or old_threshold
    new_threshold = min(new_threshold, len(groups))
    changed = any(d.added or d.removed for d in diffs) or new_threshold != old_threshold
    if not changed:
        return None, diffs, old_threshold, new_threshold
    f.recover_key(order)
    f.rewrap(groups, new_threshold)
    return f.emit_encrypted(None, layout), diffs, old_threshold, new_threshold


def add_key_group_bytes(data: bytes, store: Store, group: Sequence[MasterKey], threshold: int = 0,
                        order: Sequence[str] = DEFAULT_DECRYPTION_ORDER, out_store: Store | None = None,
                        layout: str = "3.13") -> bytes:
    """sops `groups add`: the same data key, split again over the file's groups plus `group`.

    `threshold` 0 keeps the file's own Shamir threshold."""
    if not group:
        raise InputError("empty key group provided")
    f = SopsFile.load(data, store)
    f.recover_key(order)
    groups = [*f.master_keys(), list(group)]
    f.rewrap(groups, threshold or f.metadata.shamir_threshold)
    return f.emit_encrypted(out_store, layout)


def delete_key_group_bytes(data: bytes, store: Store, index: int, threshold: int = 0,
                           order: Sequence[str] = DEFAULT_DECRYPTION_ORDER, out_store: Store | None = None,
                           layout: str = "3.13") -> bytes:
    """sops `groups delete`: drop key group `index` (0-based) and split the data key over the rest."""
    f = SopsFile.load(data, store)
    f.recover_key(order)
    groups = f.master_keys()
    if not 0 <= index < len(groups):
        raise InputError(f"key group {index} does not exist (the file has {len(groups)})")
    del groups[index]
    wanted = threshold or f.metadata.shamir_threshold
    if len(groups) < wanted:
        raise InputError(f"removing this key group will make the Shamir threshold impossible to satisfy: "
                         f"Shamir threshold is {wanted}, but we only have {len(groups)} key groups")
    f.rewrap(groups, wanted if len(groups) > 1 else 0)
    return f.emit_encrypted(out_store, layout)


def environment(branch: Branch) -> dict[str, str]:
    """sops `exec-env`: the top-level values of a decrypted document as environment variables.

    Nested values and keys holding `=` cannot be environment variables; the errors name the
    key, never a value."""
    from .gofmt import val_to_string
    from .tree import Comment

    env: dict[str, str] = {}
    for key, value in branch:
        if isinstance(value, list):  # a Branch is a list too
            raise InputError(f"cannot use complex value in environment; offending key {key}")
        if isinstance(key, Comment):
            continue
        if "=" in key:
            raise InputError(f"cannot use keys with '=' in environment: {key}")
        env[key] = value if isinstance(value, str) else val_to_string(value)
    return env


def file_status(data: bytes, store: Store) -> bool:
    from .stores import MetadataNotFound

    try:
        _, md = store.load_encrypted(data)
    except MetadataNotFound:
        return False
    return bool(md.version) and bool(md.mac)
