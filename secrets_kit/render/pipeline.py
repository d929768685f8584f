"""The render pipeline: load -> build -> hooks -> (re-seal) -> emit.

Usable as a library:

    result = render(RenderOptions(app=Path("deploy/prod"), seal_to=cert))
    sys.stdout.write(result.text())

Fail closed: any problem raises a SecretsKitError and nothing is returned, so a caller
that prints only on success never emits an empty or partial stream (with auto-prune, an
empty render deletes live resources).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RenderError
from ..k8s.manifests import string_values
from . import emit, source
from .hooks import placeholders, sealed
from .hooks import sops as sops_hook
from .model import Hook, Manifest, RenderContext, is_secret, resource_id
from .paths import find_root
from .sopsindex import ENC_PREFIX

LEAK_MIN_LENGTH = 8


@dataclass
class SealTarget:
    """Where zero-plaintext mode seals to: a certificate's public key and the reseal key."""

    public_key: Any  # rsa.RSAPublicKey
    fingerprint: str
    reseal_key: bytes
    source: str = "<cert>"


@dataclass
class RenderOptions:
    app: Path
    root: Path | None = None  # default: found from the app folder (see paths.find_root)
    namespace: str | None = None  # destination namespace
    recurse: bool = False  # plain folders: include subfolders
    helm: source.HelmSettings = field(default_factory=source.HelmSettings)
    seal_to: SealTarget | None = None  # zero-plaintext mode
    decrypt: bool = True
    validate_sealed: bool = True
    verify_keys: Any = None  # a sealed.crypto.Keyring: open every SealedSecret (proves the cert)
    provider_factory: Callable[[], Any] | None = None  # opens a providers.Provider on first use
    extra_hooks: list[Hook] = field(default_factory=list)


@dataclass
class RenderResult:
    manifests: list[Manifest]
    context: RenderContext

    def text(self, fmt: str = "yaml") -> str:
        return emit.dump(self.manifests, fmt)

    @property
    def sealed(self) -> int:
        return int(self.context.facts.get("resealed", 0))


def hooks_for(options: RenderOptions) -> list[Hook]:
    hooks: list[Hook] = []
    if options.decrypt:
        hooks.append(sops_hook.decrypt)
    hooks.append(placeholders.resolver_hook(options.provider_factory or (lambda: None)))
    if options.validate_sealed:
        hooks.append(_sealed_validator(options))
    hooks.extend(options.extra_hooks)
    return hooks


def _sealed_validator(options: RenderOptions) -> Hook:
    modulus = fingerprint = None
    if options.seal_to is not None:
        modulus = options.seal_to.public_key.public_numbers().n
        fingerprint = options.seal_to.fingerprint
    opener = None
    if options.verify_keys is not None:
        keyring = options.verify_keys

        def opener(doc: Manifest, where: str) -> None:
            from ..sealed.model import unseal

            unseal(doc, keyring, where=where)

    return sealed.validator(modulus=modulus, fingerprint=fingerprint, opener=opener)


def run_hooks(docs: list[Manifest], ctx: RenderContext, options: RenderOptions) -> list[Manifest]:
    for hook in hooks_for(options):
        docs = hook(docs, ctx)
    _check_no_ciphertext_left(docs)
    if options.seal_to is not None:
        docs = seal_outputs(docs, ctx, options.seal_to)
    return emit.order(docs)


def _check_no_ciphertext_left(docs: list[Manifest]) -> None:
    """A SOPS value nobody could decrypt must not be applied as if it were the value."""
    for doc in docs:
        if sops_hook.opted_out(doc):
            continue
        found = any(ENC_PREFIX in text for text in string_values(doc))
        if not found and is_secret(doc) and isinstance(doc.get("data"), dict):
            found = any(isinstance(v, str) and ENC_PREFIX.encode() in _b64(v) for v in doc["data"].values())
        if found:
            raise RenderError("an encrypted SOPS value is left in the output", where=str(resource_id(doc)),
                              hint="the value has no sops metadata to decrypt it with; re-encrypt the file with sops")


def _b64(value: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(value.replace("\n", ""), validate=False)
    except (binascii.Error, ValueError):
        return b""


def _has_items(doc: Manifest) -> bool:
    return bool(doc.get("data")) or bool(doc.get("stringData"))


def seal_outputs(docs: list[Manifest], ctx: RenderContext, target: SealTarget) -> list[Manifest]:
    """Zero-plaintext: every Secret with items becomes a SealedSecret; nothing decrypted stays in the clear."""
    from .reseal import Resealer

    resealer = Resealer(target.public_key, target.fingerprint, target.reseal_key)
    out: list[Manifest] = []
    for doc in docs:
        rid = resource_id(doc)
        if sops_hook.opted_out(doc):
            pass  # kept encrypted on purpose (Flux's opt-out): nothing in plaintext to re-seal
        elif is_secret(doc) and _has_items(doc):
            if rid not in ctx.decrypted:
                ctx.warn(f"{rid}: a plaintext Secret is committed in the repository; it was sealed, but rotate its "
                         "values and encrypt it (secrets-kit sops encrypt / secrets-kit seal)")
            doc = resealer.seal(doc, namespace=ctx.namespace, where=str(rid))
            ctx.count("resealed")
        elif rid in ctx.decrypted:
            raise RenderError(f"zero-plaintext mode: {rid.kind} holds decrypted values and only Secrets can be "
                              "re-sealed", where=str(rid), hint="move the values into a Secret and reference it")
        out.append(doc)
    for doc in out:
        field = _leaked_field(doc, ctx)
        if field is not None:
            raise RenderError(f"zero-plaintext mode: a decrypted value appears in plaintext at {field}",
                              where=str(resource_id(doc)), hint="reference the Secret instead of copying its value")
    return out


# Identity fields are not searched: a short value may equal a name by chance ("demo-dev").
_IDENTITY = (("metadata", "name"), ("metadata", "namespace"), ("metadata", "generateName"))


def _leaked_field(node: Any, ctx: RenderContext, path: tuple[str, ...] = ()) -> str | None:
    """The path of the first string that contains a decrypted value, or None."""
    if isinstance(node, dict):
        for key, value in node.items():
            found = _leaked_field(value, ctx, (*path, str(key)))
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _leaked_field(value, ctx, (*path, str(index)))
            if found is not None:
                return found
    elif isinstance(node, str) and path[-2:] not in _IDENTITY and path[-3:-1] != ("metadata", "labels") \
            and ctx.redactor.leaked(node, min_length=LEAK_MIN_LENGTH):
        return ".".join(path)
    return None


def make_context(options: RenderOptions) -> RenderContext:
    app = options.app.resolve()
    root = (options.root or find_root(app)).resolve()
    return RenderContext(root=root, app=app, namespace=options.namespace)


def render(options: RenderOptions) -> RenderResult:
    """Render one app folder. Raises on any problem; never returns a partial result."""
    ctx = make_context(options)
    with ctx.scrubbing():
        docs = source.load(ctx, recurse=options.recurse, helm_settings=options.helm)
        docs = run_hooks(docs, ctx, options)
    if not docs:
        raise RenderError("the render produced no manifests", where=str(options.app),
                          hint="an empty render would make a pruning reconciler delete everything")
    return RenderResult(docs, ctx)
