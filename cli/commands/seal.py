"""`secrets-kit seal` and `secrets-kit unseal`: Sealed Secrets for whole folders, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from secrets_kit.errors import KeyMaterialError

from .seal_run import SCOPES, progress_bar, read_stdin_once, summary, write_outputs

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
def seal(**params: Any) -> None:
    from .seal_run import UsageProblem, run_seal  # the work, shared with the click-free front

    try:
        run_seal(**params)
    except UsageProblem as problem:
        raise click.UsageError(str(problem)) from None


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
        summary(result, written, "unsealed", report, False)


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
