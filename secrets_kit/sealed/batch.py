"""Many files in one run: seal, unseal and re-encrypt whole folders, all or nothing.

Every input is read, checked and processed in memory first; only when all of them
succeeded are the outputs written (each atomically). A bad file stops the run with an
error naming it, and nothing is written.

Output paths: next to the input (`app.yaml` -> `app.sealed.yaml`, or
`app.<cluster>.sealed.yaml` when sealing for several clusters) or under `--out-dir`
(mirroring the input tree, one sub-folder per cluster when there are several).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import DecryptionError, InputError, SecretsKitError
from ..k8s.manifests import Manifest, describe, dump_documents, expand_lists, load_documents
from ..k8s.secrets import metadata
from .crypto import Keyring
from .model import (
    SealOptions,
    decode_b64,
    encrypted_data,
    is_sealed_secret,
    label_of,
    open_for_reencrypt,
    prepare_secret,
    reseal_opened,
    seal_prepared,
    unseal,
)

if TYPE_CHECKING:  # pathlib (with urllib.parse and ipaddress) loads only when files are involved
    from pathlib import Path

    from .targets import Target

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
Progress = Callable[[int], None]
_T = TypeVar("_T")


# Plain classes, not dataclasses (importing `dataclasses` costs a seal's start-up more than the seal)
# nor NamedTuples (their string annotations, see tests/sealed/test_import_budget.py).
class Source:
    __slots__ = ("explicit", "path", "rel")

    def __init__(self, path: Path | None, rel: str, explicit: bool) -> None:
        self.path = path  # None: standard input
        self.rel = rel  # the path under --out-dir
        self.explicit = explicit  # named on the command line (not found by walking a folder)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "<stdin>"


class Output:
    __slots__ = ("documents", "mode", "path", "target", "text", "unchanged")

    def __init__(self, path: Path | None, text: str, mode: int, documents: int, target: str | None = None,
                 unchanged: bool = False) -> None:
        self.path = path  # None: standard output
        self.text = text
        self.mode = mode
        self.documents = documents
        self.target = target
        self.unchanged = unchanged  # the file already holds exactly this


class Report:
    """What a batch did; filled in as it goes."""

    __slots__ = ("details", "documents", "failures", "files", "outputs", "skipped")

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.documents = 0
        self.files = 0
        self.skipped: list[str] = []  # files walked past (no matching documents)
        self.details: list[dict[str, Any]] = []  # per document, names only
        self.failures: list[str] = []  # check-only unseal: what could not be opened


def collect(paths: Sequence[str], *, exclude: Path | None = None, skip_sealed: bool = False) -> list[Source]:
    """The files to work on: named files as they are, folders walked for *.yaml/*.yml/*.json.

    `skip_sealed` (when sealing) walks past `*.sealed.*`, the outputs of an earlier run; unsealing and
    re-encrypting want exactly those files."""
    sources: list[Source] = []
    excluded = exclude.resolve() if exclude else None
    for raw in paths or ["-"]:
        if raw == "-":
            sources.append(Source(None, "stdin.yaml", True))
            continue
        from pathlib import Path

        path = Path(raw)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                here = Path(dirpath)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                     and (excluded is None or (here / d).resolve() != excluded))
                for name in sorted(filenames):
                    file = here / name
                    if name.startswith(".") or not name.lower().endswith(MANIFEST_SUFFIXES):
                        continue
                    if skip_sealed and ".sealed." in name:
                        continue  # our own output from an earlier run
                    sources.append(Source(file, str(file.relative_to(path)), False))
        elif path.is_file():
            sources.append(Source(path, path.name, True))
        else:
            raise InputError("no such file or folder", where=raw)
    return sources


def read(source: Source, stdin: Callable[[], bytes]) -> list[Manifest]:
    """The documents of one source, `kind: List` (and SealedSecretList) items flattened."""
    if source.path is None:
        return list(expand_lists(load_documents(stdin(), source="<stdin>")))
    try:
        data = source.path.read_bytes()
    except OSError as ex:
        raise InputError(f"cannot read: {ex.strerror}", where=source.where) from None
    return list(expand_lists(load_documents(data, source=source.where)))


def _doc_where(source: Source, doc: Manifest, index: int) -> str:
    meta = doc.get("metadata")
    if isinstance(meta, dict) and meta.get("name"):
        return f"{source.where}: {describe(doc)}"
    return f"{source.where}: document {index}"


def _format(source: Source, fmt: str | None) -> str:
    if fmt:
        return fmt
    return "json" if source.path is not None and source.path.suffix.lower() == ".json" else "yaml"


def output_path(source: Source, *, fmt: str, target: str | None, out_dir: Path | None,
                marker: str = ".sealed", output: Path | None = None) -> Path | None:
    """Where one output goes; None for stdout (stdin input without --out-dir).

    `output` (-w/--output) is the one explicit file of a single source and target: it wins.
    """
    if output is not None:
        return output
    if out_dir is None and source.path is None:
        return None
    from pathlib import PurePath

    rel = PurePath(source.rel)
    ext = ".json" if fmt == "json" else (rel.suffix if rel.suffix.lower() in (".yaml", ".yml") else ".yaml")
    if out_dir is not None:
        base = out_dir / target if target else out_dir
        return base / rel.with_suffix(ext)
    if source.path is None:
        return None
    stem = source.path.name[: -len(source.path.suffix)] if source.path.suffix else source.path.name
    middle = f".{target}" if target else ""
    return source.path.with_name(f"{stem}{middle}{marker}{ext}")


def _existing(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _ticking(items: Iterable[_T], progress: Progress | None) -> Iterator[_T]:
    """Each item in turn, advancing the progress bar once the caller is done with it (or skipped it)."""
    for item in items:
        yield item
        if progress:
            progress(1)


def _reuse_unchanged(sealed: Manifest, items: dict[str, bytes], previous: list[Manifest], keyring: Keyring,
                     fingerprint: str) -> None:
    """Keep the earlier ciphertext of every item whose plaintext did not change (no Git churn)."""
    meta = sealed["metadata"]
    for old in previous:
        raw = old.get("metadata")
        old_meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if not is_sealed_secret(old) or (old_meta.get("name"), old_meta.get("namespace")) != (
                meta.get("name"), meta.get("namespace")) or old_meta.get("annotations") != meta.get("annotations"):
            continue
        try:
            old_data = encrypted_data(old, "<previous>")
            label = label_of(old, "<previous>")
        except SecretsKitError:
            return
        new_data = sealed["spec"]["encryptedData"]
        for item, value in old_data.items():
            if item not in items:
                continue
            try:
                plain, key = keyring.decrypt(decode_b64(value, item, "<previous>"), label)
            except SecretsKitError:
                continue
            if plain == items[item] and key.fingerprint == fingerprint:
                new_data[item] = value
        return


def _single_output(sources: Sequence[Source], targets: Sequence[Target], output: Path | None,
                   out_dir: Path | None) -> None:
    if output is not None and (len(sources) != 1 or len(targets) != 1 or out_dir is not None):
        raise ValueError("an explicit output needs a single source, a single target and no out_dir")


def seal_sources(sources: Sequence[Source], targets: Sequence[Target], options: SealOptions, *,
                 fmt: str | None = None, out_dir: Path | None = None, output: Path | None = None,
                 stdin: Callable[[], bytes], reuse_keys: Callable[[str], Keyring | None] | None = None,
                 progress: Progress | None = None) -> Report:
    """Seal every Secret of every source for every target.

    `output` (-w) is the file for the single source and target, instead of NAME.sealed.yaml.
    `reuse_keys(fingerprint)` may return the private keys of a target: then an existing output
    is read back and every item whose plaintext did not change keeps its old ciphertext.
    """
    _single_output(sources, targets, output, out_dir)
    report = Report()
    multi = len(targets) > 1
    for source in _ticking(sources, progress):
        docs = read(source, stdin)
        prepared = []
        kinds = {doc.get("kind") for doc in docs}
        if not source.explicit and (not docs or "Secret" not in kinds):
            report.skipped.append(source.where)
            continue
        if not source.explicit and kinds - {"Secret"}:
            raise InputError("mixes Secrets with other kinds; keep each Secret in its own file",
                             where=source.where)
        if not docs:
            raise InputError("no secrets found", where=source.where, hint="the input holds no documents")
        for index, doc in enumerate(docs, start=1):
            where = _doc_where(source, doc, index)
            if is_sealed_secret(doc):
                raise InputError("is already a SealedSecret", where=where,
                                 hint="use `secrets-kit seal --re-encrypt` to re-seal it for another key")
            meta, items = prepare_secret(doc, options, where)
            prepared.append((meta, items, doc))
        fmt_out = _format(source, fmt)
        for target in targets:
            path = output_path(source, fmt=fmt_out, target=target.name if multi else None, out_dir=out_dir,
                               output=output)
            if source.path is not None and path is not None and path.resolve() == source.path.resolve():
                raise InputError("the output would overwrite the input", where=source.where,
                                 hint="choose another -w/--output file" if output is not None
                                 else "choose another --out-dir")
            existing = _existing(path)
            previous: list[Manifest] = []
            keyring = reuse_keys(target.cert.fingerprint) if reuse_keys and existing is not None else None
            if existing is not None and keyring is not None:
                try:
                    previous = load_documents(existing, source=str(path))
                except InputError:
                    previous = []
            sealed_docs = []
            for meta, items, doc in prepared:
                sealed = seal_prepared(meta, items, doc, target.cert.public_key)
                if previous and keyring is not None:
                    _reuse_unchanged(sealed, items, previous, keyring, target.cert.fingerprint)
                sealed_docs.append(sealed)
                report.details.append({"source": source.where, "target": target.name,
                                       "name": meta["name"], "namespace": meta.get("namespace"),
                                       "items": sorted(items)})
            text = dump_documents(sealed_docs, fmt_out)
            report.outputs.append(Output(path, text, 0o644, len(sealed_docs), target.name,
                                         unchanged=existing == text))
        report.documents += len(prepared)
        report.files += 1
    return report


def _workers(count: int) -> int:
    return max(1, min(4, os.cpu_count() or 1, count))


def unseal_sources(sources: Sequence[Source], keyring: Keyring, *, fmt: str | None = None,
                   out_dir: Path | None = None, to_stdout: bool = True, stdin: Callable[[], bytes],
                   owner_reference: bool = False, check_only: bool = False,
                   progress: Progress | None = None) -> Report:
    """Unseal every SealedSecret; with check_only, record which key opens each item and print nothing.

    RSA private-key operations dominate and release the GIL, so files are opened on a few
    threads; results are assembled in input order, and the first failing file (in order) stops it.
    """
    report = Report()

    def open_source(source: Source) -> tuple[list[Manifest], list[Manifest], list[dict[str, Any]], list[str]]:
        docs = read(source, stdin)
        secrets: list[Manifest] = []
        details: list[dict[str, Any]] = []
        failures: list[str] = []
        for index, doc in enumerate(docs, start=1):
            if not is_sealed_secret(doc):
                if source.explicit and any(is_sealed_secret(d) for d in docs):
                    raise InputError("not a SealedSecret", where=_doc_where(source, doc, index))
                continue
            where = _doc_where(source, doc, index)
            meta = metadata(doc, where)
            try:
                result = unseal(doc, keyring, where=where, owner_reference=owner_reference)
            except DecryptionError as err:
                if not check_only:
                    raise
                failures.append(str(err))
                details.append({"source": source.where, "name": meta.get("name"),
                                "namespace": meta.get("namespace"), "ok": False, "error": err.message})
                continue
            secrets.append(result.secret)
            details.append({"source": source.where, "name": meta.get("name"),
                            "namespace": meta.get("namespace"), "ok": True, "items": result.opened_by})
        return docs, secrets, details, failures

    if len(sources) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(_workers(len(sources))) as pool:
            results = list(pool.map(open_source, sources))
    else:
        results = [open_source(source) for source in sources]
    for source, (docs, secrets, details, failures) in _ticking(zip(sources, results, strict=True), progress):
        sealed_count = sum(1 for d in docs if is_sealed_secret(d))
        if not sealed_count:
            if source.explicit:
                found = ", ".join(sorted({str(d.get("kind")) for d in docs})) or "no documents"
                raise InputError(f"no SealedSecret found (found {found})", where=source.where)
            report.skipped.append(source.where)
            continue
        report.details.extend(details)
        report.failures.extend(failures)
        report.documents += sealed_count
        report.files += 1
        if not check_only and secrets:
            fmt_out = _format(source, fmt)
            path = None if (to_stdout and out_dir is None) else output_path(
                source, fmt=fmt_out, target=None, out_dir=out_dir, marker=".unsealed")
            report.outputs.append(Output(path, dump_documents(secrets, fmt_out), 0o600, len(secrets)))
    return report


def reencrypt_sources(sources: Sequence[Source], keyring: Keyring, targets: Sequence[Target], *,
                      fmt: str | None = None, out_dir: Path | None = None, output: Path | None = None,
                      stdin: Callable[[], bytes], progress: Progress | None = None) -> Report:
    """Re-seal every SealedSecret for each target, offline; in place when there is one target and no out_dir.

    `output` (-w) is the file for the single source and target instead. Each SealedSecret is
    decrypted once, however many targets there are.
    """
    _single_output(sources, targets, output, out_dir)
    report = Report()
    multi = len(targets) > 1
    for source in _ticking(sources, progress):
        docs = read(source, stdin)
        if not any(is_sealed_secret(d) for d in docs):
            if source.explicit:
                raise InputError("no SealedSecret found", where=source.where)
            report.skipped.append(source.where)
            continue
        fmt_out = _format(source, fmt)
        opened = {index: open_for_reencrypt(doc, keyring, where=_doc_where(source, doc, index))
                  for index, doc in enumerate(docs, start=1) if targets and is_sealed_secret(doc)}
        for target in targets:
            out_docs = []
            changed = False
            for index, doc in enumerate(docs, start=1):
                if index not in opened:
                    out_docs.append(doc)
                    continue
                where = opened[index].where
                result = reseal_opened(opened[index], target.cert.public_key, target.cert.fingerprint)
                out_docs.append(result.sealed)
                changed = changed or bool(result.changed)
                report.details.append({"source": source.where, "target": target.name,
                                       "name": metadata(doc, where).get("name"),
                                       "reencrypted": result.changed, "current": result.current})
            path: Path | None
            if output is not None:
                path = output
            elif out_dir is not None:
                path = output_path(source, fmt=fmt_out, target=target.name if multi else None, out_dir=out_dir,
                                   marker="")
            elif multi:
                path = output_path(source, fmt=fmt_out, target=target.name, out_dir=None, marker=".sealed")
            else:
                path = source.path  # in place
            text = dump_documents(out_docs, fmt_out)
            existing = _existing(path)
            report.outputs.append(Output(path, text, 0o644, len(out_docs), target.name,
                                         unchanged=existing == text or (path == source.path and not changed)))
        report.documents += sum(1 for d in docs if is_sealed_secret(d))
        report.files += 1
    return report
