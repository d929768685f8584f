"""`secrets-kit seal` without click: the command's work, and a front that parses its common flags.

`secrets-kit seal --cert cert.pem < secret.yaml` is the most-run command; importing click costs
more than the seal. A command line of the flags in SEAL_OPTIONS is parsed by
secrets_kit_cli.fastargs (as `secrets-kit kubeseal` does) and run here; anything else (--help, the
editing and re-encrypting modes, a bad value) goes to the click command in seal.py, and a bad
combination found while running is reported through click, so both print the same help and errors.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from secrets_kit_cli.fastargs import Opt, parse

from secrets_kit.errors import InputError, KeyMaterialError

if TYPE_CHECKING:
    from pathlib import Path

SCOPES = ("strict", "namespace-wide", "cluster-wide")


class UsageProblem(Exception):
    """A combination of flags the command refuses: click reports it as a usage error (exit 2)."""


# The flags the click-free front takes (tests/sealed/test_seal_front.py checks each against the click
# option); the others (--edit, --re-encrypt, -k, --from-literal, --from-file, --remove) go to click.
SEAL_OPTIONS: dict[str, Opt] = {
    "--cert": Opt("certs", True, True), "--clusters": Opt("registry", True, path="file"),
    "--cluster": Opt("clusters", True, True), "--all-clusters": Opt("all_clusters"),
    "--keys-dir": Opt("keys_dir", True, path="dir"), "--from-cluster": Opt("from_cluster"),
    "--controller-name": Opt("controller_name", True), "--controller-namespace": Opt("controller_namespace", True),
    "--kubeconfig": Opt("kubeconfig", True, path="file"), "--context": Opt("context", True),
    "--scope": Opt("scope", True, choices=SCOPES), "-n": Opt("namespace", True), "--namespace": Opt("namespace", True),
    "--name": Opt("name", True), "-o": Opt("fmt", True, choices=("yaml", "json")),
    "--format": Opt("fmt", True, choices=("yaml", "json")), "--out-dir": Opt("out_dir", True, path="dir"),
    "-w": Opt("output", True, path="file"), "--output": Opt("output", True, path="file"),
    "--allow-empty-data": Opt("allow_empty_data"), "--allow-expired-cert": Opt("allow_expired_cert"),
    "--dry-run": Opt("dry_run"), "--progress": Opt("progress", const=True),
    "--no-progress": Opt("progress", const=False), "--report": Opt("report", True, choices=("text", "json")),
}
# What click passes for each parameter when it is not given.
SEAL_DEFAULTS: dict[str, Any] = {
    "paths": (), "certs": (), "registry": None, "clusters": (), "all_clusters": False, "keys_dir": None,
    "from_cluster": False, "controller_name": "sealed-secrets-controller", "controller_namespace": "kube-system",
    "kubeconfig": None, "context": None, "scope": None, "namespace": None, "name": None, "fmt": None,
    "out_dir": None, "output": None, "allow_empty_data": False, "allow_expired_cert": False, "re_encrypt": False,
    "keys": (), "edit": None, "literals": (), "from_files": (), "removals": (), "dry_run": False, "progress": None,
    "report": "text",
}


def fast_parse(args: Sequence[str]) -> dict[str, Any] | None:
    """The click command's parameters for a command line of SEAL_OPTIONS flags, else None."""
    kw = parse(args, SEAL_OPTIONS, SEAL_DEFAULTS, positional="paths")
    for dest in ("out_dir", "output") if kw is not None else ():
        if kw[dest] is not None:
            from pathlib import Path  # click's path_type=Path for these two (not loaded for stdout)

            kw[dest] = Path(kw[dest])
    return kw


def fast_main(args: list[str]) -> bool:
    """Run `secrets-kit seal ARGS` without click if its flags allow; False: the caller runs click."""
    kw = fast_parse(args)
    if kw is None:
        return False
    try:
        run_seal(**kw)
    except UsageProblem as problem:
        _usage_error(args, str(problem))
    return True


def _usage_error(args: list[str], message: str) -> NoReturn:
    """The usage error as click prints it for `secrets-kit seal ARGS` (usage line, hint, exit 2)."""
    import click

    from .seal import seal

    error = click.UsageError(message, seal.make_context("secrets-kit seal", list(args)))
    error.show()
    sys.exit(error.exit_code)


def read_stdin_once(what: str = "Secret manifests") -> Callable[[], bytes]:
    cache: list[bytes] = []

    def read() -> bytes:
        if not cache:
            if sys.stdin.isatty():
                print(f"(reading {what} from the terminal; end with Ctrl-D, or pass a PATH)", file=sys.stderr, flush=True)
            cache.append(sys.stdin.buffer.read())
        return cache[0]

    return read


@contextlib.contextmanager
def progress_bar(label: str, total: int, enabled: bool | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr when it is a terminal (or when asked); a no-op otherwise."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show or total < 2:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def write_outputs(outputs: Sequence[Any], *, dry_run: bool = False) -> list[str]:
    """Write file outputs all-or-nothing, print stdout outputs; returns the paths written."""
    files = [(o.path, o.text, o.mode) for o in outputs if o.path is not None and not o.unchanged]
    if files and not dry_run:
        from secrets_kit.files import write_all_atomic  # with pathlib: not for a seal to stdout

        write_all_atomic(files)
    if not dry_run:
        for output in outputs:
            if output.path is None:
                sys.stdout.write(output.text)
                sys.stdout.flush()
    return [str(path) for path, _, _ in files]


def overrides_from(kubeconfig: str | None, context: str | None, namespace: str | None = None) -> Any:
    from secrets_kit.k8s.kubeconfig import Overrides

    return Overrides(kubeconfig=kubeconfig, context=context, namespace=namespace)


def parse_item_pairs(literals: Sequence[str], files: Sequence[str], stdin: Callable[[], bytes]) -> dict[str, bytes]:
    """--from-literal KEY=VALUE and --from-file KEY=PATH (PATH `-` is stdin) into item bytes."""
    from pathlib import Path  # only --edit reads item files

    items: dict[str, bytes] = {}
    for raw in literals:
        key, sep, value = raw.partition("=")
        if not sep or not key:
            # Never the argument itself: `password:hunter2` (a typo for `=`) is all secret.
            raise InputError("--from-literal needs KEY=VALUE", where="--from-literal")
        items[key] = value.encode("utf-8")
    for raw in files:
        key, sep, path = raw.partition("=")
        if not sep:  # kubectl's form: the file name is the key
            key, path = Path(raw).name, raw
        if not key or not path:
            raise InputError("--from-file needs KEY=PATH or PATH", where=raw)
        if path == "-":
            items[key] = stdin()
            continue
        try:
            items[key] = Path(path).read_bytes()
        except OSError as ex:
            raise InputError(f"cannot read: {ex.strerror}", where=path) from None
    return items


def summary(report: Any, written: list[str], verb: str, fmt: str, dry_run: bool) -> None:
    if fmt == "json":
        import json

        print(json.dumps({
            "files": report.files, "documents": report.documents, "written": written,
            "unchanged": [str(o.path) for o in report.outputs if o.unchanged and o.path],
            "skipped": report.skipped, "details": report.details, "dryRun": dry_run,
        }, indent=2), flush=True)
        return
    unchanged = sum(1 for o in report.outputs if o.unchanged)
    parts = [f"{verb} {report.documents} document(s) from {report.files} file(s)"]
    if any(o.path is not None for o in report.outputs):
        parts.append(f"{'would write' if dry_run else 'wrote'} {len(written)} file(s)")
    if unchanged:
        parts.append(f"{unchanged} unchanged")
    if report.skipped:
        parts.append(f"skipped {len(report.skipped)} file(s) without matching documents")
    print("secrets-kit: " + ", ".join(parts), file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ seal


def run_seal(paths: tuple[str, ...], certs: tuple[str, ...], registry: str | None, clusters: tuple[str, ...],
             all_clusters: bool, keys_dir: str | None, from_cluster: bool, controller_name: str,
             controller_namespace: str, kubeconfig: str | None, context: str | None, scope: str | None,
             namespace: str | None, name: str | None, fmt: str | None, out_dir: Path | None, output: Path | None,
             allow_empty_data: bool, allow_expired_cert: bool, re_encrypt: bool, keys: tuple[str, ...],
             edit: Path | None, literals: tuple[str, ...], from_files: tuple[str, ...], removals: tuple[str, ...],
             dry_run: bool, progress: bool | None, report: str) -> None:
    """`secrets-kit seal` from its parameters (the click command's, by name); UsageProblem for a bad combination."""
    from secrets_kit.sealed import batch
    from secrets_kit.sealed.model import SealOptions
    from secrets_kit.sealed.scopes import Scope
    from secrets_kit.sealed.targets import resolve_targets

    if (literals or from_files or removals) and edit is None:
        raise UsageProblem("--from-literal, --from-file and --remove need --edit FILE")
    if edit is not None and (paths or re_encrypt):
        raise UsageProblem("--edit works on one file: give no PATH and no --re-encrypt")
    if keys and not re_encrypt:
        raise UsageProblem("--key is for --re-encrypt")
    if output is not None and out_dir is not None:
        raise UsageProblem("give either -w/--output or --out-dir")
    stdin = read_stdin_once()
    overrides = overrides_from(kubeconfig, context) if (from_cluster or clusters or all_clusters) else None
    if (clusters or all_clusters) and registry is None:
        registry = "clusters.yaml"  # secrets_kit.sealed.registry.DEFAULT_REGISTRY, without importing it
    needs_cert = edit is None or bool(literals or from_files)
    targets = resolve_targets(
        certs=certs, clusters=clusters, registry=registry, all_clusters=all_clusters, keys_dir=keys_dir,
        from_cluster=overrides if from_cluster else None, controller_name=controller_name,
        controller_namespace=controller_namespace, allow_expired=allow_expired_cert) if needs_cert else []

    if edit is not None:
        _edit(edit, targets, literals, from_files, removals, stdin, output, fmt, dry_run, report)
        return

    sources = batch.collect(paths, exclude=out_dir, skip_sealed=not re_encrypt)
    if output is not None and (len(sources) != 1 or len(targets) != 1):
        raise UsageProblem("-w/--output needs a single input and a single certificate; use --out-dir")
    if name and (len(sources) != 1 or not sources[0].explicit):
        raise UsageProblem("--name needs a single input file")
    with progress_bar("sealing" if not re_encrypt else "re-encrypting", len(sources), progress) as advance:
        if re_encrypt:
            from secrets_kit.sealed.keyfiles import read_private_keys

            if not keys:
                raise UsageProblem("--re-encrypt needs the old private keys: -k/--key FILE|DIR")
            if len(targets) > 1 and out_dir is None:
                raise UsageProblem("re-encrypting for several certificates needs --out-dir")
            result = batch.reencrypt_sources(sources, read_private_keys(keys), targets, fmt=fmt,
                                             out_dir=out_dir, output=output, stdin=stdin, progress=advance)
            verb = "re-encrypted"
        else:
            options = SealOptions(scope=Scope.parse(scope) if scope else None, name=name, namespace=namespace,
                                  namespace_explicit=namespace is not None, allow_empty=allow_empty_data)
            result = batch.seal_sources(sources, targets, options, fmt=fmt, out_dir=out_dir, output=output,
                                        stdin=stdin, reuse_keys=_folder_keys(keys_dir), progress=advance)
            verb = "sealed"
    written = write_outputs(result.outputs, dry_run=dry_run)
    summary(result, written, verb, report, dry_run)


def _folder_keys(keys_dir: str | None) -> Callable[[str], Any] | None:
    """With a local key folder, earlier outputs can be read back: unchanged items keep their ciphertext."""
    if keys_dir is None:
        return None
    from secrets_kit.sealed.keys import KeyFolder

    folder = KeyFolder(keys_dir)
    cache: dict[str, Any] = {}

    def lookup(fingerprint: str) -> Any:
        if "ring" not in cache:  # private keys are parsed only if an earlier output exists
            cache["ring"] = folder.keyring()
        ring = cache["ring"]
        return ring if any(k.fingerprint == fingerprint for k in ring) else None

    return lookup


def _edit(path: Path, targets: Sequence[Any], literals: Sequence[str], from_files: Sequence[str],
          removals: Sequence[str], stdin: Callable[[], bytes], output: Path | None, fmt: str | None,
          dry_run: bool, report: str) -> None:
    from secrets_kit.files import write_atomic
    from secrets_kit.k8s.manifests import dump_documents, format_for_path, load_documents
    from secrets_kit.sealed.model import is_sealed_secret, remove_items, set_items

    where = str(path)
    items = parse_item_pairs(literals, from_files, stdin)
    if not items and not removals:
        raise UsageProblem("--edit needs --from-literal, --from-file or --remove")
    if items and len(targets) != 1:
        raise KeyMaterialError("--edit seals new items for exactly one certificate", where=where)
    raw = path.read_bytes()
    docs = load_documents(raw, source=where)
    indexes = [i for i, d in enumerate(docs) if is_sealed_secret(d)]
    if len(indexes) != 1:
        raise InputError(f"expected exactly one SealedSecret, found {len(indexes)}", where=where)
    doc = docs[indexes[0]]
    if items:
        doc = set_items(doc, items, targets[0].cert.public_key, where=where)
    if removals:
        doc = remove_items(doc, list(removals), where=where)
    docs[indexes[0]] = doc
    out_fmt = fmt or ("json" if raw.lstrip()[:1] == b"{" else format_for_path(where))
    text = dump_documents(docs, out_fmt)
    target = output or path
    if not dry_run:
        write_atomic(target, text, mode=0o644)
    edited = {"file": str(target), "set": sorted(items), "removed": sorted(removals), "dryRun": dry_run}
    if report == "json":
        import json

        print(json.dumps(edited, indent=2), flush=True)
    else:
        print(f"secrets-kit: {'would update' if dry_run else 'updated'} {target}: "
              f"set {len(items)} item(s), removed {len(removals)}", file=sys.stderr, flush=True)
