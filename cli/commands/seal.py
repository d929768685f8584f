"""`secrets-kit seal` and `secrets-kit unseal`: Sealed Secrets for whole folders, offline."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from secrets_kit.errors import InputError, KeyMaterialError

SCOPES = ["strict", "namespace-wide", "cluster-wide"]


# ----------------------------------------------------------------------------- shared by the sealed CLI


def read_stdin_once(what: str = "Secret manifests") -> Callable[[], bytes]:
    cache: list[bytes] = []

    def read() -> bytes:
        if not cache:
            if sys.stdin.isatty():
                click.echo(f"(reading {what} from the terminal; end with Ctrl-D, or pass a PATH)", err=True)
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
    from secrets_kit.files import write_all_atomic

    files = [(o.path, o.text, o.mode) for o in outputs if o.path is not None and not o.unchanged]
    if not dry_run:
        write_all_atomic(files)
        for output in outputs:
            if output.path is None:
                click.echo(output.text, nl=False)
    return [str(path) for path, _, _ in files]


def overrides_from(kubeconfig: str | None, context: str | None, namespace: str | None = None) -> Any:
    from secrets_kit.k8s.kubeconfig import Overrides

    return Overrides(kubeconfig=kubeconfig, context=context, namespace=namespace)


def parse_item_pairs(literals: Sequence[str], files: Sequence[str], stdin: Callable[[], bytes]) -> dict[str, bytes]:
    """--from-literal KEY=VALUE and --from-file KEY=PATH (PATH `-` is stdin) into item bytes."""
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


def _summary(report: Any, written: list[str], verb: str, fmt: str, dry_run: bool) -> None:
    if fmt == "json":
        click.echo(json.dumps({
            "files": report.files, "documents": report.documents, "written": written,
            "unchanged": [str(o.path) for o in report.outputs if o.unchanged and o.path],
            "skipped": report.skipped, "details": report.details, "dryRun": dry_run,
        }, indent=2))
        return
    unchanged = sum(1 for o in report.outputs if o.unchanged)
    parts = [f"{verb} {report.documents} document(s) from {report.files} file(s)"]
    if any(o.path is not None for o in report.outputs):
        parts.append(f"{'would write' if dry_run else 'wrote'} {len(written)} file(s)")
    if unchanged:
        parts.append(f"{unchanged} unchanged")
    if report.skipped:
        parts.append(f"skipped {len(report.skipped)} file(s) without matching documents")
    click.echo("secrets-kit: " + ", ".join(parts), err=True)


# ------------------------------------------------------------------------------------------------ seal

SEAL_HELP = """Seal Secret manifests into SealedSecrets, offline.

\b
PATH is a file, a folder (walked for *.yaml, *.yml and *.json files that hold Secrets)
or - for standard input (the default). Standard input goes to standard output; files are
written next to their input as NAME.sealed.yaml, or under --out-dir (same tree).
Nothing is written unless every input seals.

\b
Certificates (give at least one; several seal for each, one output per cluster):
  --cert FILE|URL          a controller certificate (repeatable)
  --cluster NAME           a cluster of the registry --clusters FILE (repeatable)
  --all-clusters           every cluster of the registry
  --keys-dir DIR           the newest key of a local key folder (`secrets-kit keys`)
  --from-cluster           the controller of the kubeconfig context
Expired certificates are refused unless --allow-expired-cert.

\b
Cluster registry (YAML), paths relative to the file:
  clusters:
    prod-eu: {cert: certs/prod-eu.pem}
    prod-us: {cert: https://certs.example.com/us.pem}
    dev: {context: kind-dev, controllerName: sealed-secrets}

\b
Other modes:
  --re-encrypt -k OLD_KEY  PATHs are SealedSecrets: re-seal them for the certificate(s)
                           with local private keys, no cluster needed. One target: the
                           files are rewritten in place; items already sealed for it stay.
  --edit FILE              add or replace items (--from-literal, --from-file) or remove
                           them (--remove) in one SealedSecret; other items keep their
                           ciphertext byte for byte.
"""


@click.command(help=SEAL_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--cert", "certs", multiple=True, metavar="FILE|URL", help="Sealing certificate (repeatable).")
@click.option("--clusters", "registry", metavar="FILE", type=click.Path(dir_okay=False),
              help="Cluster registry file [default: clusters.yaml].")
@click.option("--cluster", "clusters", multiple=True, metavar="NAME", help="Seal for this registry cluster.")
@click.option("--all-clusters", is_flag=True, help="Seal for every cluster of the registry.")
@click.option("--keys-dir", type=click.Path(file_okay=False), help="Seal with the newest key of this folder.")
@click.option("--from-cluster", is_flag=True, help="Fetch the certificate from the controller (kubeconfig).")
@click.option("--controller-name", default="sealed-secrets-controller", show_default=True)
@click.option("--controller-namespace", default="kube-system", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig for --from-cluster.")
@click.option("--context", help="Kubeconfig context for --from-cluster and registry clusters.")
@click.option("--scope", type=click.Choice(SCOPES), help="Sealing scope [default: from annotations, else strict].")
@click.option("-n", "--namespace", help="Namespace for Secrets that have none (a different one is an error).")
@click.option("--name", help="Override the Secret's name (single Secret only).")
@click.option("-o", "--format", "fmt", type=click.Choice(["yaml", "json"]), help="Output format [default: as input].")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="Write outputs under this folder.")
@click.option("-w", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the single output to this file.")
@click.option("--allow-empty-data", is_flag=True, help="Seal Secrets with no items.")
@click.option("--allow-expired-cert", is_flag=True, help="Seal with an expired certificate anyway.")
@click.option("--re-encrypt", is_flag=True, help="Re-seal existing SealedSecrets offline (needs --key).")
@click.option("-k", "--key", "keys", multiple=True, metavar="PATH",
              help="Private key file or folder for --re-encrypt (repeatable; any kubeseal key format).")
@click.option("--edit", type=click.Path(dir_okay=False, exists=True, path_type=Path), metavar="FILE",
              help="Edit the items of one SealedSecret file.")
@click.option("--from-literal", "literals", multiple=True, metavar="KEY=VALUE", help="With --edit: set an item.")
@click.option("--from-file", "from_files", multiple=True, metavar="KEY=PATH",
              help="With --edit: set an item from a file (- for stdin).")
@click.option("--remove", "removals", multiple=True, metavar="KEY", help="With --edit: remove an item.")
@click.option("--dry-run", is_flag=True, help="Do everything but write files.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: when stderr is a terminal].")
@click.option("--report", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Summary: one line on stderr, or JSON on stdout (names only, never values).")
def seal(paths: tuple[str, ...], certs: tuple[str, ...], registry: str | None, clusters: tuple[str, ...],
         all_clusters: bool, keys_dir: str | None, from_cluster: bool, controller_name: str,
         controller_namespace: str, kubeconfig: str | None, context: str | None, scope: str | None,
         namespace: str | None, name: str | None, fmt: str | None, out_dir: Path | None, output: Path | None,
         allow_empty_data: bool, allow_expired_cert: bool, re_encrypt: bool, keys: tuple[str, ...],
         edit: Path | None, literals: tuple[str, ...], from_files: tuple[str, ...], removals: tuple[str, ...],
         dry_run: bool, progress: bool | None, report: str) -> None:
    from secrets_kit.sealed import batch
    from secrets_kit.sealed.model import SealOptions
    from secrets_kit.sealed.scopes import Scope
    from secrets_kit.sealed.targets import resolve_targets

    if (literals or from_files or removals) and edit is None:
        raise click.UsageError("--from-literal, --from-file and --remove need --edit FILE")
    if edit is not None and (paths or re_encrypt):
        raise click.UsageError("--edit works on one file: give no PATH and no --re-encrypt")
    if keys and not re_encrypt:
        raise click.UsageError("--key is for --re-encrypt")
    if output is not None and out_dir is not None:
        raise click.UsageError("give either -w/--output or --out-dir")
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
        raise click.UsageError("-w/--output needs a single input and a single certificate; use --out-dir")
    if name and (len(sources) != 1 or not sources[0].explicit):
        raise click.UsageError("--name needs a single input file")
    with progress_bar("sealing" if not re_encrypt else "re-encrypting", len(sources), progress) as advance:
        if re_encrypt:
            from secrets_kit.sealed.keyfiles import read_private_keys

            if not keys:
                raise click.UsageError("--re-encrypt needs the old private keys: -k/--key FILE|DIR")
            if len(targets) > 1 and out_dir is None:
                raise click.UsageError("re-encrypting for several certificates needs --out-dir")
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
    _summary(result, written, verb, report, dry_run)


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
        raise click.UsageError("--edit needs --from-literal, --from-file or --remove")
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
    summary = {"file": str(target), "set": sorted(items), "removed": sorted(removals), "dryRun": dry_run}
    if report == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"secrets-kit: {'would update' if dry_run else 'updated'} {target}: "
                   f"set {len(items)} item(s), removed {len(removals)}", err=True)


# ---------------------------------------------------------------------------------------------- unseal

UNSEAL_HELP = """Recover Secrets from SealedSecrets with local private keys (disaster recovery, editing).

\b
PATH is a file, a folder (walked for SealedSecrets) or - for standard input (the default).
Keys: -k/--key FILE|DIR in any form kubeseal accepts (PEM PKCS#1/PKCS#8, a key Secret in
YAML/JSON, a `kubectl get secret -o yaml` backup List), and --keys-dir (default: the local
key folder). Every key is tried; the one that worked last is tried first.

\b
Plaintext goes to standard output unless -w FILE or --out-dir DIR: there each input keeps
its own name and its path under the folder given (DIR/app/db.yaml for app/db.yaml; standard
input as DIR/stdin.yaml; the extension follows -o), mode 0600. --check prints no plaintext:
it reports which key opens each item and exits with 4 if any item cannot be opened.
"""


@click.command(help=UNSEAL_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-k", "--key", "keys", multiple=True, metavar="PATH", help="Private key file or folder (repeatable).")
@click.option("--keys-dir", type=click.Path(file_okay=False), help="A local key folder [default: the user's].")
@click.option("-o", "--format", "fmt", type=click.Choice(["yaml", "json"]), help="Output format [default: as input].")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write Secrets under this folder, keeping input names.")
@click.option("-w", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write all Secrets to FILE.")
@click.option("--check", is_flag=True, help="Only check that every item opens; print no plaintext.")
@click.option("--owner-references", is_flag=True,
              help="Add the controller's ownerReference, as kubeseal --recovery-unseal does.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: when stderr is a terminal].")
@click.option("--report", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="With --check or files: a summary on stderr, or JSON on stdout.")
def unseal(paths: tuple[str, ...], keys: tuple[str, ...], keys_dir: str | None, fmt: str | None,
           out_dir: Path | None, output: Path | None, check: bool, owner_references: bool,
           progress: bool | None, report: str) -> None:
    from secrets_kit.sealed import batch
    from secrets_kit.sealed.crypto import Keyring
    from secrets_kit.sealed.keyfiles import read_private_keys
    from secrets_kit.sealed.keys import KeyFolder, default_keys_dir

    if output is not None and out_dir is not None:
        raise click.UsageError("give either -w/--output or --out-dir")
    ring = Keyring()
    if keys_dir is not None or not keys:
        folder = KeyFolder(keys_dir or default_keys_dir())
        if keys_dir is not None or folder.path.is_dir():
            for key in folder.keyring():
                ring.add(key)
    if keys:
        for key in read_private_keys(keys):
            ring.add(key)
    if not len(ring):
        raise KeyMaterialError("no private keys", hint="pass -k/--key FILE|DIR or --keys-dir DIR")
    sources = batch.collect(paths, exclude=out_dir)
    with progress_bar("unsealing", len(sources), progress) as advance:
        result = batch.unseal_sources(sources, ring, fmt=fmt, out_dir=out_dir, to_stdout=output is None,
                                      stdin=read_stdin_once("SealedSecrets"), owner_reference=owner_references,
                                      check_only=check, progress=advance)
    if output is not None and result.outputs:
        text = "".join(o.text for o in result.outputs)
        result.outputs = [batch.Output(output, text, 0o600, sum(o.documents for o in result.outputs))]
    if check:
        _check_report(result, report)
        if result.failures:
            from secrets_kit.errors import DecryptionError

            raise DecryptionError(f"{len(result.failures)} SealedSecret(s) cannot be unsealed with these keys")
        return
    written = write_outputs(result.outputs)
    if written or report == "json":
        _summary(result, written, "unsealed", report, False)


def _check_report(result: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({"documents": result.documents, "details": result.details}, indent=2))
        return
    for detail in result.details:
        name = f"{detail.get('namespace') or ''}/{detail.get('name') or ''}"
        if detail["ok"]:
            keys = sorted(set(detail["items"].values()))
            click.echo(f"ok    {detail['source']}: {name}: {len(detail['items'])} item(s), key {', '.join(keys)}")
        else:
            click.echo(f"FAIL  {detail['source']}: {name}: {detail['error']}")
