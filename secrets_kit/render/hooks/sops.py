"""Hook: decrypt SOPS content in the built manifests, as Flux's kustomize-controller does.

- a resource with a top-level `sops` block (any kind) is decrypted whole;
- a Secret made by a secretGenerator from an encrypted `envs:` file (it carries the
  file's `sops_*` items) gets its items replaced by the verified plaintext, and the
  `sops_*` items dropped;
- a Secret item holding a whole encrypted file (secretGenerator `files:`) is decrypted,
  its format taken from the item name.

`kustomize.toolkit.fluxcd.io/decrypt: Disabled` on a resource leaves it as it is.
"""

from __future__ import annotations

import binascii

from ...errors import RenderError
from ...k8s.secrets import b64decode_go
from ..model import Manifest, RenderContext, is_secret, resource_id
from ..sopsfiles import has_sops_marker, is_sops_document
from ..sopsindex import b64

OPT_OUT = "kustomize.toolkit.fluxcd.io/decrypt"


def opted_out(doc: Manifest) -> bool:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, dict) and str(annotations.get(OPT_OUT, "")).lower() == "disabled"


def _decode(value: object, key: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise RenderError(f"data.{key} is not a base64 string", where=where)
    try:
        return b64decode_go(value)
    except (binascii.Error, ValueError):
        raise RenderError(f"data.{key} is not valid base64", where=where) from None


def _decrypt_env_items(doc: Manifest, ctx: RenderContext, where: str) -> bool:
    data = doc["data"]
    mac = _decode(data["sops_mac"], "sops_mac", where).decode("utf-8", "replace")
    env = ctx.sops.env_file(mac)
    if env is None:
        raise RenderError("Secret holds the items of a SOPS-encrypted env file that is not part of this "
                          "repository's kustomization", where=where,
                          hint="a remote base cannot be verified: vendor the encrypted env file locally")
    for key, enc_value in env.encrypted:
        if key.startswith("sops_"):
            data.pop(key, None)
        elif key in data and _decode(data[key], key, where) == enc_value.encode("utf-8"):
            data[key] = b64(env.plain[key].encode("utf-8", "surrogateescape"))
    return True


def decrypt(docs: list[Manifest], ctx: RenderContext) -> list[Manifest]:
    out: list[Manifest] = []
    for doc in docs:
        where = str(resource_id(doc))
        if opted_out(doc):
            out.append(doc)
            continue
        if is_sops_document(doc):
            doc = ctx.sops.decrypt_document(doc, where)
            ctx.mark_decrypted(doc, "sops")
            ctx.count("sops_resources")
        elif is_secret(doc) and isinstance(doc.get("data"), dict):
            changed = False
            data = doc["data"] = dict(doc["data"])
            if "sops_mac" in data:
                changed = _decrypt_env_items(doc, ctx, where)
            for key in sorted(data):
                if data[key] is None:
                    continue
                raw = _decode(data[key], key, where)
                if has_sops_marker(raw):
                    data[key] = b64(ctx.sops.decrypt_item(raw, key, f"{where}: data.{key}"))
                    changed = True
            if changed:
                ctx.mark_decrypted(doc, "sops")
                ctx.count("sops_generated")
        out.append(doc)
    return out
