"""kubeseal's command-line behaviour (v0.36.6 `runCLI`) on top of the sealed core.

Drop-in emulation lives in the CLI (cli/dropins/), never in the core: the core knows SealedSecrets,
this module knows kubeseal's flags, order of checks, texts and exit codes.
`commands/kubeseal.py` parses argv into `KubesealFlags`; `run` follows kubeseal's order of
checks: --recovery-unseal, --validate, --re-encrypt, open the certificate, --fetch-cert,
--merge-into, --raw, then seal. Error texts are kubeseal's where it has one; every
failure exits 1, as kubeseal does.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): see EVALUATED_ANNOTATIONS
# in tests/sealed/test_import_budget.py. Paths are strings (os.path), as in k8s/kubeconfig.py.

import base64
import json
import os
from collections.abc import Callable, Sequence
from typing import BinaryIO, NamedTuple

from cryptography.hazmat.primitives.asymmetric import rsa

from secrets_kit.errors import ConfigError, InputError, SecretsKitError
from secrets_kit.k8s.kubeconfig import Overrides, default_namespace
from secrets_kit.k8s.manifests import Manifest, dump_documents, dump_json, dump_yaml, load_documents
from secrets_kit.sealed.certs import load_cert
from secrets_kit.sealed.crypto import hybrid_encrypt
from secrets_kit.sealed.fetch import (
    DEFAULT_CONTROLLER_NAME,
    DEFAULT_CONTROLLER_NAMESPACE,
    NoClusterConfigured,
    controller_post,
    fetch_cluster_cert,
    is_local_path,
    status_message,
)
from secrets_kit.sealed.fetch import read_cert_source as read_cert
from secrets_kit.sealed.model import (
    API_VERSION,
    KIND,
    SealOptions,
    go_field_order,
    is_sealed_secret,
    merge_into,
    seal_secret,
    unseal,
)
from secrets_kit.sealed.scopes import Scope, encryption_label

EXIT_KUBESEAL = 1


# NamedTuples, not dataclasses: importing `dataclasses` costs more than the seal (issue 10 item 9).
class KubesealFlags(NamedTuple):
    cert: str = ""
    controller_namespace: str = DEFAULT_CONTROLLER_NAMESPACE
    controller_name: str = DEFAULT_CONTROLLER_NAME
    output_format: str = "json"
    output_file: str = ""
    input_file: str = ""
    fetch_cert: bool = False
    allow_empty_data: bool = False
    validate: bool = False
    merge_into: str = ""
    raw: bool = False
    name: str = ""
    from_file: Sequence[str] = ()
    scope: Scope = Scope.STRICT
    re_encrypt: bool = False
    recovery_unseal: bool = False
    private_keys: Sequence[str] = ()
    overrides: Overrides = Overrides()
    controller_name_given: bool = False


class Streams(NamedTuple):
    stdin: BinaryIO
    stdout: BinaryIO
    warn: Callable[[str], None]
    stdin_is_tty: bool = False
    stderr_is_tty: bool = False


# kubeseal's words (client-go's) when no kubeconfig names a cluster.
NO_CLUSTER = ("invalid configuration: no configuration has been provided, "
              "try setting KUBERNETES_MASTER environment variable")


def _fail(message: str, hint: str | None = None) -> SecretsKitError:
    return SecretsKitError(message, hint=hint, exit_code=EXIT_KUBESEAL)


def run(flags: KubesealFlags, streams: Streams) -> None:
    """Run one kubeseal invocation. Every SecretsKitError leaves with kubeseal's exit code 1."""
    try:
        _run(flags, streams)
    except NoClusterConfigured as err:
        raise _fail(NO_CLUSTER, hint=err.hint) from None
    except SecretsKitError as err:
        err.exit_code = EXIT_KUBESEAL
        raise


def _run(flags: KubesealFlags, streams: Streams) -> None:
    if flags.from_file and not flags.raw:
        raise _fail("--from-file requires --raw")
    input_path = flags.input_file or None
    if input_path is not None and not os.path.isfile(input_path):
        raise _fail("Could not read file specified with --secret-file")
    if input_path is None and not flags.raw and not flags.fetch_cert and streams.stdin_is_tty:
        streams.warn("(tty detected: expecting json/yaml k8s resource in stdin)")

    def read_input() -> bytes:
        return _file_bytes(input_path) if input_path is not None else streams.stdin.read()

    source = flags.input_file or "<stdin>"
    if flags.re_encrypt and not flags.output_file and flags.input_file:
        flags = flags._replace(output_file=flags.input_file)  # kubeseal rewrites the input in place (#405)
    fmt = flags.output_format.lower()
    if flags.output_file and os.path.splitext(flags.output_file)[1] in (".yaml", ".yml"):
        fmt = "yaml"
    if fmt not in ("json", "yaml", ""):
        raise _fail(f"unsupported output format: {flags.output_format}")
    fmt = fmt or "json"

    out: list[bytes] = []
    _dispatch(flags, streams, read_input, source, fmt, out)
    data = b"".join(out)
    if flags.output_file:
        from secrets_kit.files import write_atomic

        write_atomic(flags.output_file, data, mode=0o600 if flags.recovery_unseal else 0o644)
    else:
        streams.stdout.write(data)


def _dispatch(flags: KubesealFlags, streams: Streams, read_input: Callable[[], bytes], source: str, fmt: str,
              out: list[bytes]) -> None:
    if flags.recovery_unseal:
        from secrets_kit.sealed.keyfiles import read_private_keys

        for path in flags.private_keys:  # read first, as kubeseal does, and fail in its words
            _readable(path)
        keyring = read_private_keys(flags.private_keys) if flags.private_keys else None
        docs = load_documents(read_input(), source=source)
        if not docs or docs == [{}]:
            # kubeseal decodes empty input into an empty SealedSecret and "unseals" it: exit 0.
            out.append(_dump(EMPTY_UNSEALED, fmt))
            return
        if keyring is None:
            raise _fail("no private key given: use --recovery-private-key")
        for index, doc in enumerate(docs, start=1):
            where = source if len(docs) == 1 else f"{source}: document {index}"
            secret = unseal(doc, keyring, where=where, accept_v1_data=False, owner_reference=True).secret
            for item, value in (secret.get("data") or {}).items():
                if value == "":
                    secret["data"][item] = None  # Go prints an empty []byte from AES-GCM as null
            out.append(_dump(secret, fmt))
        return
    if flags.private_keys and streams.stderr_is_tty:
        streams.warn("warning: ignoring --recovery-private-key because unseal command not chosen with "
                     "--recovery-unseal")
    if flags.validate:
        _validate(flags, read_input, source)
        return
    if flags.re_encrypt:
        _reencrypt(flags, read_input, source, fmt, out)
        return

    if flags.cert:
        pem = _read_cert(flags.cert)
        cert_source = flags.cert
    else:
        pem = fetch_cluster_cert(flags.overrides, namespace=flags.controller_namespace,
                                 name=flags.controller_name, discover=not flags.controller_name_given)
        cert_source = f"{flags.controller_namespace}/{flags.controller_name}"
    if flags.fetch_cert:
        out.append(pem)
        return
    cert = load_cert(pem, cert_source)
    cert.check_usable()

    if flags.merge_into:
        _merge(flags, read_input, source, cert.public_key)
        return
    if flags.raw:
        out.append(_raw(flags, cert.public_key, streams))
        return
    namespace, explicit = default_namespace(flags.overrides)
    options = SealOptions(scope=flags.scope if flags.scope is not Scope.STRICT else None, name=flags.name or None,
                          namespace=namespace or None, namespace_explicit=explicit,
                          allow_empty=flags.allow_empty_data)
    docs = load_documents(read_input(), source=source)
    if not docs:
        raise _fail("no secrets found. Ensure the input is valid and UTF-8 encoded")
    sealed = []
    for index, doc in enumerate(docs, start=1):
        where = source if len(docs) == 1 else f"{source}: document {index}"
        sealed.append(seal_secret(doc, cert.public_key, options, where=where))
    out.append(dump_documents(sealed, fmt).encode())


# What kubeseal --recovery-unseal prints for empty input: the Secret of an empty SealedSecret.
EMPTY_UNSEALED: Manifest = {"kind": "Secret", "apiVersion": "v1", "metadata": {"ownerReferences": [
    {"apiVersion": "", "kind": "", "name": "", "uid": "", "controller": True}]}}


def _file_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _readable(path: str) -> bytes:
    """A file's bytes; failing in Go's words (`open PATH: no such file or directory`)."""
    try:
        return _file_bytes(os.path.expanduser(path))
    except OSError as ex:
        raise _fail(f"open {path}: {(ex.strerror or 'cannot read').lower()}") from None


def _read_cert(spec: str) -> bytes:
    return _readable(spec) if is_local_path(spec) else read_cert(spec)


def _dump(doc: Manifest, fmt: str) -> bytes:
    return (dump_yaml(doc) if fmt == "yaml" else dump_json(doc)).encode()


def _raw(flags: KubesealFlags, public_key: rsa.RSAPublicKey, streams: Streams) -> bytes:
    namespace = ""
    if flags.scope is not Scope.CLUSTER_WIDE:
        namespace, _ = default_namespace(flags.overrides)
        if not namespace and flags.overrides.namespace is None and not _has_kubeconfig(flags.overrides):
            raise _fail("invalid configuration: no configuration has been provided, "
                        "try setting KUBERNETES_MASTER environment variable")
        if not namespace:
            raise _fail(f"must provide the --namespace flag with --raw and --scope {flags.scope.value}")
        if not flags.name and flags.scope is Scope.STRICT:
            raise _fail(f"must provide the --name flag with --raw and --scope {flags.scope.value}")
    if flags.from_file:
        if len(flags.from_file) > 1:
            raise _fail("must provide only one --from-file when encrypting a single item with --raw")
        path = flags.from_file[0].split("=", 1)[-1]  # kubectl's [key=]path; the key is ignored
        try:
            data = _file_bytes(path)
        except OSError as ex:
            raise _fail(f"open {path}: {(ex.strerror or 'cannot read').lower()}") from None
    else:
        if streams.stdin_is_tty:
            streams.warn("(tty detected: expecting a secret to encrypt in stdin)")
        data = streams.stdin.read()
    label = encryption_label(namespace, flags.name, flags.scope)
    return base64.b64encode(hybrid_encrypt(public_key, data, label))


def _has_kubeconfig(overrides: Overrides) -> bool:
    from secrets_kit.k8s.kubeconfig import load_merged

    try:
        merged = load_merged(overrides)
    except ConfigError:
        return False
    return bool(merged["contexts"] or merged["clusters"]) or bool(overrides.server)


def _merge(flags: KubesealFlags, read_input: Callable[[], bytes], source: str,
           public_key: rsa.RSAPublicKey) -> None:
    from pathlib import Path

    from secrets_kit.files import write_atomic

    target = Path(flags.merge_into)
    try:
        existing = target.read_bytes()
    except OSError as ex:
        raise _fail(f"open {target}: {(ex.strerror or 'cannot read').lower()}") from None
    docs = load_documents(existing, source=str(target))
    if not docs or not is_sealed_secret(docs[0]):
        raise InputError("not a SealedSecret", where=str(target))
    orig = docs[0]
    meta = orig.get("metadata") or {}
    fallback_ns, _ = default_namespace(flags.overrides)
    options = SealOptions(namespace=fallback_ns or None, name=meta.get("name") or None,
                          scope=flags.scope if flags.scope is not Scope.STRICT else None,
                          namespace_override=meta.get("namespace") or None, allow_empty=flags.allow_empty_data)
    inputs = load_documents(read_input(), source=source)
    if not inputs:
        raise _fail("no secrets found. Ensure the input is valid and UTF-8 encoded")
    merged = orig
    for doc in inputs:
        update = seal_secret(doc, public_key, options, where=source)
        merged = merge_into(merged, update, where=str(target))
    fmt = flags.output_format.lower() or "json"
    # kubeseal decodes the file into its Go type and encodes that: JSON in the type's field order
    # whatever the file's own order (YAML output sorts keys anyway).
    write_atomic(target, _dump(go_field_order(merged), fmt), mode=0o644)


def _validate(flags: KubesealFlags, read_input: Callable[[], bytes], source: str) -> None:
    try:
        docs = load_documents(read_input(), source=source)
    except InputError:
        raise _fail("unable to decrypt sealed secret") from None
    for doc in docs:
        status, body = controller_post(flags.overrides, "/v1/verify", json.dumps(doc).encode(),
                                       namespace=flags.controller_namespace, name=flags.controller_name,
                                       discover=not flags.controller_name_given)
        if status == 409:
            raise _fail(f"unable to decrypt sealed secret: {(doc.get('metadata') or {}).get('name', '')}")
        if status >= 300:
            raise _fail(f"cannot validate sealed secret: {status_message(status, body, text_fallback=True)}")


def _reencrypt(flags: KubesealFlags, read_input: Callable[[], bytes], source: str, fmt: str,
               out: list[bytes]) -> None:
    docs = load_documents(read_input(), source=source)
    for doc in docs:
        status, body = controller_post(flags.overrides, "/v1/rotate", json.dumps(doc).encode(),
                                       namespace=flags.controller_namespace, name=flags.controller_name,
                                       discover=not flags.controller_name_given)
        if status == 409:
            raise _fail("unable to rotate secret")
        if status >= 300:
            raise _fail(f"cannot re-encrypt secret: {status_message(status, body, text_fallback=True)}")
        try:
            rotated = json.loads(body)
        except ValueError:
            raise _fail("cannot re-encrypt secret: the controller answered with something that is not JSON") \
                from None
        if not isinstance(rotated, dict):
            raise _fail("cannot re-encrypt secret: the controller answered with something that is not an object")
        meta = rotated.get("metadata") or {}
        for key in ("creationTimestamp", "deletionTimestamp", "generation"):
            meta.pop(key, None)
        # The controller encodes a bare Go struct: no kind/apiVersion. kubeseal decodes it into the
        # SealedSecret type and prints it with them, first, like every object it writes.
        typed = {"kind": KIND, "apiVersion": API_VERSION,
                 **{k: v for k, v in rotated.items() if k not in ("kind", "apiVersion")}}
        out.append(_dump(typed, fmt))


