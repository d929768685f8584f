"""`secrets-kit keys`: a local folder of sealing key pairs, shaped like the controller's."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import click

from secrets_kit.errors import InputError

_DURATION = re.compile(r"(\d+)([dhm])")


def parse_ttl(text: str) -> dt.timedelta:
    """`87600h`, `3650d`, `90d12h`: days, hours and minutes."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InputError(f"bad duration {text!r}", hint="use e.g. 87600h, 3650d or 30d12h")
    unit = {"d": "days", "h": "hours", "m": "minutes"}
    total = dt.timedelta()
    for number, suffix in parts:
        total += dt.timedelta(**{unit[suffix]: int(number)})
    return total


def _folder(keys_dir: str | None) -> Any:
    from secrets_kit.sealed.keys import KeyFolder, default_keys_dir

    return KeyFolder(keys_dir or default_keys_dir())


def _age(delta: dt.timedelta) -> str:
    days = delta.days
    if days >= 365:
        return f"{days // 365}y{(days % 365) // 30}mo" if days % 365 >= 30 else f"{days // 365}y"
    if days >= 1:
        return f"{days}d"
    return f"{int(delta.total_seconds() // 3600)}h"


keys_dir_option = click.option(
    "--dir", "keys_dir", type=click.Path(file_okay=False), envvar="SECRETS_KIT_KEYS_DIR",
    help="Key folder [default: $SECRETS_KIT_KEYS_DIR or ~/.config/secrets-kit/sealed-keys].")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def keys() -> None:
    """Create, list, rotate and export sealing key pairs; generate an age identity for sops.

    \b
    A key folder holds NAME.key (PKCS#1 PEM, mode 0600) and NAME.crt pairs like the
    controller makes: RSA-4096, a self-signed certificate with an empty subject, ten
    years of validity, KeyUsage encipherOnly. The newest pair (by NotBefore) seals.
    Keep the folder out of Git: the private keys open every SealedSecret.
    """


def _create(keys_dir: str | None, bits: int, ttl: str, common_name: str, fmt: str, verb: str) -> None:
    folder = _folder(keys_dir)
    pair = folder.create(bits=bits, ttl=parse_ttl(ttl), common_name=common_name)
    if fmt == "json":
        click.echo(json.dumps(_row(pair, pair, dt.datetime.now(dt.UTC)), indent=2))
    else:
        click.echo(f"{verb} {pair.name} ({pair.cert.fingerprint}) in {folder.path}")


_create_options = [
    keys_dir_option,
    click.option("--bits", type=click.IntRange(2048, 16384), default=4096, show_default=True, help="RSA key size."),
    click.option("--ttl", default="87600h", show_default=True, help="Certificate validity (d, h, m units)."),
    click.option("--cn", "common_name", default="", help="Certificate common name [default: empty, as upstream]."),
    click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True),
]


def _with_options(func: Any) -> Any:
    for option in reversed(_create_options):
        func = option(func)
    return func


@keys.command()
@_with_options
def create(keys_dir: str | None, bits: int, ttl: str, common_name: str, fmt: str) -> None:
    """Generate a key pair into the folder (creating it)."""
    _create(keys_dir, bits, ttl, common_name, fmt, "created")


@keys.command()
@_with_options
def rotate(keys_dir: str | None, bits: int, ttl: str, common_name: str, fmt: str) -> None:
    """Add a new key pair that becomes the newest; old keys stay to unseal older SealedSecrets.

    Re-seal existing files for it offline with
    `secrets-kit seal --re-encrypt --keys-dir DIR -k DIR PATH...`.
    """
    folder = _folder(keys_dir)
    if not folder.pairs():
        raise InputError("no keys to rotate yet", where=str(folder.path), hint="use `secrets-kit keys create`")
    _create(keys_dir, bits, ttl, common_name, fmt, "rotated: new newest key")


def _row(pair: Any, newest: Any, now: dt.datetime) -> dict[str, Any]:
    cert = pair.cert
    status = "expired" if cert.expired(now) else ("newest" if pair is newest else "active")
    return {
        "name": pair.name, "fingerprint": cert.fingerprint, "bits": cert.bits,
        "notBefore": cert.not_before.isoformat(), "notAfter": cert.not_after.isoformat(),
        "age": _age(now - cert.not_before), "status": status, "privateKey": pair.key_path is not None,
        "cert": str(pair.cert_path),
    }


@keys.command(name="list")
@keys_dir_option
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_keys(keys_dir: str | None, fmt: str) -> None:
    """List key pairs: fingerprint, age, validity; the newest one seals."""
    folder = _folder(keys_dir)
    pairs = folder.pairs()
    now = dt.datetime.now(dt.UTC)
    rows = [_row(p, pairs[-1], now) for p in pairs]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no keys in {folder.path}", err=True)
        return
    header = ("NAME", "FINGERPRINT", "BITS", "CREATED", "AGE", "EXPIRES", "STATUS")
    table = [header] + [(r["name"], r["fingerprint"], str(r["bits"]), r["notBefore"][:10], r["age"],
                         r["notAfter"][:10], r["status"] + ("" if r["privateKey"] else " (no private key)"))
                        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@keys.command(name="export-cert")
@keys_dir_option
@click.option("--key", "selector", help="Name or fingerprint of the pair [default: the newest].")
@click.option("-w", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not stdout.")
def export_cert(keys_dir: str | None, selector: str | None, output: Path | None) -> None:
    """Print a pair's certificate (PEM) to share with whoever seals: kubeseal --cert works with it."""
    folder = _folder(keys_dir)
    pair = folder.find(selector) if selector else folder.newest()
    if output is None:
        click.echo(pair.cert.pem.decode(), nl=False)
    else:
        from secrets_kit.files import write_atomic

        write_atomic(output, pair.cert.pem, mode=0o644)


@keys.command(name="export-secret")
@keys_dir_option
@click.option("--key", "selector", help="Name or fingerprint of the pair [default: all of them].")
@click.option("--namespace", default="kube-system", show_default=True, help="The controller's namespace.")
@click.option("-o", "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def export_secret(keys_dir: str | None, selector: str | None, namespace: str, fmt: str) -> None:
    """Print key pairs as the controller's key Secrets (to `kubectl apply` them: bring your own key).

    The output holds PRIVATE keys: pipe it to kubectl, do not store it.
    """
    from secrets_kit.k8s.manifests import dump_documents
    from secrets_kit.sealed.keys import key_secret

    folder = _folder(keys_dir)
    pairs = [folder.find(selector)] if selector else folder.pairs()
    if not pairs:
        raise InputError("no keys in folder", where=str(folder.path))
    docs = []
    for pair in pairs:
        pair.private_key()  # refuses a missing key, or one that does not match its certificate
        assert pair.key_path is not None
        docs.append(key_secret(pair.name, pair.key_path.read_bytes(), pair.cert.pem, namespace=namespace))
    click.echo(dump_documents(docs, fmt), nl=False)


@keys.command(name="import")
@keys_dir_option
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
def import_keys(keys_dir: str | None, files: tuple[str, ...]) -> None:
    """Import keys from controller backups (`kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key
    -o yaml`), key Secrets or PEM files, with their certificates when present (else a new self-signed one)."""
    from secrets_kit.k8s.manifests import expand_lists, load_documents
    from secrets_kit.k8s.secrets import metadata, secret_items
    from secrets_kit.sealed.crypto import fingerprint
    from secrets_kit.sealed.keyfiles import parse_pem_key, read_key_data
    from secrets_kit.sealed.keys import cert_pem, new_key_name, self_sign

    folder = _folder(keys_dir)
    known = {p.cert.fingerprint for p in folder.pairs()}
    imported = 0
    for file in files:
        data = Path(file).read_bytes()
        entries: list[tuple[str, Any, bytes | None]] = []
        pem_key = parse_pem_key(data, file)
        if pem_key is not None:
            crt = data if b"BEGIN CERTIFICATE" in data else None
            entries.append((Path(file).stem, pem_key, crt))
        else:
            found = read_key_data(data, file)  # the full format check, with its errors: one key per document
            docs = list(expand_lists(load_documents(data, source=file)))
            for doc, key in zip(docs, found, strict=True):
                name = str(metadata(doc, file).get("name") or new_key_name())
                entries.append((name, key, secret_items(doc, file).get("tls.crt")))
        for name, key, crt in entries:
            fp = fingerprint(key.public_key())
            if fp in known:
                click.echo(f"skipped {name}: already in the folder ({fp})", err=True)
                continue
            safe = re.sub(r"[^A-Za-z0-9._-]", "-", name) or new_key_name()
            if (folder.path / f"{safe}.crt").exists():
                safe = new_key_name()
            folder.add(safe, key, crt if crt else cert_pem(self_sign(key)))
            known.add(fp)
            imported += 1
            click.echo(f"imported {safe} ({fp})")
    click.echo(f"secrets-kit: imported {imported} key(s) into {folder.path}", err=True)


@keys.command(name="age")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Identity file [default: $SOPS_AGE_KEY_FILE, else where sops looks: "
                   "$XDG_CONFIG_HOME/sops/age/keys.txt].")
@click.option("-y", "recipient_only", is_flag=True,
              help="Print the recipient of an existing identity file instead (like age-keygen -y).")
def age_identity(output: Path | None, recipient_only: bool) -> None:
    """Generate an age identity for sops (like age-keygen) and print its recipient.

    \b
    The file is written mode 0600, atomically, and never over an existing file. Give the
    recipient (age1...) to whoever encrypts: `secrets-kit sops encrypt --age age1... FILE`,
    or put it in .sops.yaml. Keep the identity out of Git: it decrypts every file sealed to it.
    """
    import os

    from secrets_kit.sops.age_identity import create_identity, recipient_of
    from secrets_kit.sops.keysources.age import default_keys_path

    path = output or Path(os.environ.get("SOPS_AGE_KEY_FILE") or default_keys_path())
    if recipient_only:
        if not path.is_file():
            from secrets_kit.errors import KeyMaterialError

            raise KeyMaterialError("no age identity file", where=str(path), hint="create one with `secrets-kit keys age`")
        recipient = recipient_of(path)
        if recipient is None:
            raise InputError("no AGE-SECRET-KEY line in the file", where=str(path))
        click.echo(recipient)
        return
    recipient = create_identity(path)
    click.echo(recipient)
    click.echo(f"secrets-kit: wrote the age identity to {path} (mode 0600); its recipient is above", err=True)
