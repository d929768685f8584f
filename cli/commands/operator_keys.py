"""`secrets-kit operator keys backup|restore|rotate|list`: the sealing keys in the controller's namespace.

Exit codes: 0 done, 2 usage, 3 an unreadable backup file, 5 a restore refused (another key under the
same name) or no key Secret to back up, 6 the API server unreachable or refusing (RBAC, ...).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from secrets_kit.errors import EXIT_KEYS, EXIT_PROVIDER, EXIT_USAGE, SecretsKitError

T = TypeVar("T")

namespace_option = click.option(
    "--controller-namespace", default="kube-system", show_default=True,
    help="The controller's namespace, where its key Secrets live.")
kubeconfig_option = click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), default=None, callback=lambda _c, _p, v: kubeconfig_path(v),
    help="Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config as kubectl, else in-cluster).")
prefix_option = click.option("--key-prefix", default="sealed-secrets-key", show_default=True,
                             help="The controller's --key-prefix (names new keys; the legacy key's name).")


def kubeconfig_path(given: str | None) -> str | None:
    """As kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config when it exists; None: in-cluster."""
    import os
    from pathlib import Path

    if given or os.environ.get("KUBECONFIG"):
        return given or os.environ["KUBECONFIG"]
    home = Path.home() / ".kube" / "config"
    return str(home) if home.is_file() else None


def context_namespace(kubeconfig: str | None) -> str:
    """As kubectl: the current context's namespace in the kubeconfig the command connects with, else
    `default`. `kubeconfig`: the --kubeconfig file, or $KUBECONFIG's value (a list of files, read as one
    merged config); None with no $KUBECONFIG: in-cluster, where the command uses `default` too."""
    import os

    from secrets_kit.k8s.kubeconfig import Overrides, default_namespace

    listed = os.environ.get("KUBECONFIG")
    if kubeconfig is None and not listed:
        return "default"
    overrides = Overrides() if kubeconfig in (None, listed) else Overrides(kubeconfig=kubeconfig)
    return default_namespace(overrides)[0] or "default"


def fail(message: str, code: int) -> None:
    click.echo(f"secrets-kit: error: {message}", err=True)
    raise SystemExit(code)


def on_cluster(work: Coroutine[Any, Any, T]) -> T:
    """Run one cluster call; an unreachable or refusing API server is exit 6, in one line."""
    from kubernetes_asyncio.config import ConfigException
    from secrets_kit_operator.kube import KubeError

    try:
        return asyncio.run(work)
    except KubeError as err:
        fail(f"the API server refused: {err}", EXIT_PROVIDER)
    except (OSError, ConfigException) as err:  # connection refused, TLS, an unreadable kubeconfig
        fail(f"cannot reach the API server: {type(err).__name__}: {err}", EXIT_PROVIDER)
    raise AssertionError("unreachable")


def _key_line(info: Any) -> str:
    state = info.state or "legacy"
    return f"{info.name}  {info.fingerprint}  {state}  valid {info.not_before} .. {info.not_after}"


@click.group(name="keys")
def keys() -> None:
    """Back up, restore, rotate and list the controller's sealing keys (its key Secrets).

    The key Secrets are `kubernetes.io/tls` Secrets labelled
    sealedsecrets.bitnami.com/sealed-secrets-key in the controller's namespace, for ours and
    for Bitnami's controller alike. Nothing here prints key material except `backup` to a file
    or a pipe.
    """


@keys.command(name="backup")
@click.option("-w", "--write", "target", default=None, metavar="FILE",
              help="Write the backup to FILE (mode 0600, atomically: all of it or nothing). `-` is stdout. "
                   "Without -w the backup goes to stdout only when stdout is not a terminal.")
@namespace_option
@prefix_option
@kubeconfig_option
def backup(target: str | None, controller_namespace: str, key_prefix: str, kubeconfig: str | None) -> None:
    """Save every sealing key Secret as one YAML List (what `kubectl get secret -l ... -o yaml`
    shows, minus the fields the API server sets), to restore into this or another cluster.

    \b
    secrets-kit operator keys backup -w sealing-keys.yaml
    secrets-kit operator keys backup | age -r age1... > sealing-keys.yaml.age

    The file holds the PRIVATE keys: keep it out of Git. The key names and certificate
    fingerprints go to stderr. Keys renew every 30 days by default: back up after each new key.
    Exit codes: 0 saved, 2 usage (stdout is a terminal and no -w), 5 no key Secret found,
    6 the API server unreachable or refusing.
    """
    if target is None and sys.stdout.isatty():
        fail("refusing to print private keys to a terminal: give -w FILE, or -w - to force stdout", EXIT_USAGE)
    from secrets_kit_operator.keys_admin import backup as run_backup

    from secrets_kit.files import write_atomic
    from secrets_kit.k8s.yaml_out import dump_yaml
    from secrets_kit.sealed import key_backup as kb

    listing = on_cluster(run_backup(kubeconfig, controller_namespace, key_prefix))
    if not listing["items"]:
        fail(f"no sealing key Secrets in namespace {controller_namespace} (label {kb.KEY_LABEL})", EXIT_KEYS)
    text = kb.backup_header(dt.datetime.now(dt.UTC)) + dump_yaml(listing, document_marker=False)
    if target in (None, "-"):
        click.echo(text, nl=False)
    else:
        write_atomic(target, text, mode=0o600)
    infos, problems = kb.summarize(listing["items"], prefix=key_prefix)
    where = "stdout" if target in (None, "-") else target
    click.echo(f"backed up {len(listing['items'])} key Secret(s) from {controller_namespace} to {where}:", err=True)
    for info in infos:
        click.echo("  " + _key_line(info), err=True)
    for problem in problems:
        click.echo(f"  warning: {problem}", err=True)


@keys.command(name="restore")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@namespace_option
@prefix_option
@kubeconfig_option
@click.option("--dry-run", is_flag=True, help="Say what would be created; create nothing.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def restore(file: str, controller_namespace: str, key_prefix: str, kubeconfig: str | None, dry_run: bool,
            output: str) -> None:
    """Create the key Secrets of a backup that are missing in the controller's namespace.

    \b
    secrets-kit operator keys restore sealing-keys.yaml
    secrets-kit operator keys restore sealing-keys.yaml --controller-namespace sealed-secrets

    Idempotent: an equal key Secret is left as it is, the same key under another name is not
    added twice. A different key under a backed-up name is refused, and then nothing is
    created. The Secrets go to --controller-namespace whatever namespace the file names. Ours
    uses restored keys at once; Bitnami's controller loads them when it starts (restore
    before it starts, or restart it). Prints names and fingerprints, never key material.
    Exit codes: 0 restored (or nothing to do), 3 not a readable backup, 5 refused (conflict,
    or a Secret in the file holds no usable key), 6 the API server unreachable or refusing.
    """
    from secrets_kit_operator.keys_admin import restore as run_restore

    from secrets_kit.k8s.manifests import load_documents
    from secrets_kit.sealed import key_backup as kb

    try:
        data = sys.stdin.buffer.read() if file == "-" else open(file, "rb").read()  # noqa: SIM115
    except OSError as err:
        fail(f"{file}: cannot read: {err.strerror}", EXIT_USAGE)
    try:
        items = kb.read_backup(load_documents(data, source=file), file, prefix=key_prefix)
    except SecretsKitError as err:  # not YAML, not key Secrets (3), a Secret without a usable key (5)
        fail(str(err), err.exit_code)
    steps = on_cluster(run_restore(kubeconfig, controller_namespace, items, key_prefix, dry_run=dry_run))
    conflict = any(step.action == "conflict" for step in steps)
    if output == "json":
        click.echo(json.dumps({"namespace": controller_namespace, "dryRun": dry_run, "refused": conflict,
                               "keys": [s.as_json() for s in steps]}, indent=2))
    else:
        verb = {"create": "would create" if dry_run or conflict else "created", "unchanged": "unchanged",
                "present": "skipped", "conflict": "REFUSED"}
        for step in steps:
            detail = f" ({step.detail})" if step.detail else ""
            click.echo(f"{verb[step.action]}: {controller_namespace}/{step.name} {step.fingerprint}{detail}")
    if conflict:
        fail("restore refused: a key Secret of the backup exists with another key; nothing was created "
             "(move or rename the existing Secret if it must be replaced)", EXIT_KEYS)


@keys.command(name="rotate")
@namespace_option
@prefix_option
@kubeconfig_option
@click.option("--key-size", type=click.IntRange(2048), default=4096, show_default=True, help="RSA key size.")
@click.option("--key-ttl", default="87600h", show_default=True, help="Certificate validity (a Go duration).")
@click.option("--my-cn", default="", help="Common name of the certificate's subject and issuer (default empty).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rotate(controller_namespace: str, key_prefix: str, kubeconfig: str | None, key_size: int, key_ttl: str,
           my_cn: str, output: str) -> None:
    """Create a new sealing key now: what the controller does every --key-renew-period.

    \b
    secrets-kit operator keys rotate
    kubeseal --fetch-cert > cert.pem     # the new certificate

    The new key Secret (generateName --key-prefix, label sealed-secrets-key=active, tls.crt and
    tls.key) seals from now on; old keys stay and still open what they sealed. Our controller
    picks it up at once (it watches its key Secrets); Bitnami's when it restarts (or at once
    with its --watch-for-secrets). Use the flags your controller runs with. Prints the name
    and fingerprint. Exit codes: 0 created, 2 usage, 6 the API server unreachable or refusing.
    """
    from secrets_kit_operator.keys_admin import rotate as run_rotate
    from secrets_kit_operator.options import parse_go_duration

    try:
        ttl = parse_go_duration(key_ttl, "--key-ttl")
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    info = on_cluster(run_rotate(kubeconfig, controller_namespace, prefix=key_prefix, bits=key_size, ttl=ttl,
                                 common_name=my_cn, now=dt.datetime.now(dt.UTC)))
    if output == "json":
        click.echo(json.dumps({"namespace": controller_namespace, **info.as_json()}, indent=2))
    else:
        click.echo(f"created {controller_namespace}/{info.name} {info.fingerprint} (the newest key: it seals from now)")


@keys.command(name="list")
@namespace_option
@prefix_option
@kubeconfig_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_keys(controller_namespace: str, key_prefix: str, kubeconfig: str | None, output: str) -> None:
    """The key Secrets: name, certificate fingerprint, state (active, compromised) and validity.

    Exit codes: 0 listed, 6 the API server unreachable or refusing.
    """
    from secrets_kit_operator.keys_admin import list_keys as run_list

    infos, problems = on_cluster(run_list(kubeconfig, controller_namespace, key_prefix))
    if output == "json":
        click.echo(json.dumps({"namespace": controller_namespace, "keys": [i.as_json() for i in infos],
                               "problems": problems}, indent=2))
        return
    for info in infos:
        click.echo(_key_line(info))
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
