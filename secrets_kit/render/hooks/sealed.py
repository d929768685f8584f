"""Hook: check every SealedSecret before it reaches the cluster, with the rules of `sealed.validate`.

Without a private key every document is checked for shape and scope, and with a destination
certificate for being sealed to it (see `sealed.validate` for what that can and cannot prove). With
private keys (`verify_keys`, e.g. in CI with the cluster's backup keys) every item is opened, which
proves it. A broken SealedSecret fails the render (RenderError): nothing is emitted.
"""

from __future__ import annotations

from collections.abc import Callable

from ...errors import RenderError
from ...sealed import validate
from ...sealed.model import is_sealed_secret
from ..model import Manifest, RenderContext, resource_id


def validator(*, modulus: int | None = None, fingerprint: str | None = None,
              opener: Callable[[Manifest, str], None] | None = None) -> Callable[[list[Manifest], RenderContext],
                                                                                 list[Manifest]]:
    """The validation hook, bound to an optional destination certificate and key opener."""

    def check(docs: list[Manifest], ctx: RenderContext) -> list[Manifest]:
        for doc in docs:
            if is_sealed_secret(doc):
                where = str(resource_id(doc))
                try:
                    validate.check(doc, where, modulus=modulus, fingerprint=fingerprint)
                except validate.InvalidSealedSecret as err:
                    raise RenderError(err.message, where=err.where, hint=err.hint) from None
                if opener is not None:
                    opener(doc, where)
                ctx.count("sealed_validated")
        return docs

    return check
