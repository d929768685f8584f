"""`spec.template.data`: Go templates rendered over a SealedSecret's decrypted items.

Upstream renders them with Go's text/template and Sprig's functions minus env, expandenv and
getHostByName (pkg/apis/sealedsecrets/v1alpha1): FUNCTIONS is that table, for the shared engine.
A template sees nothing but the items of its own SealedSecret, as a map[string]string.
"""

from __future__ import annotations

from .. import gotemplate
from ..errors import InputError

_REMOVED_BY_UPSTREAM = ("env", "expandenv", "getHostByName")
FUNCTIONS = {name: func for name, func in {**gotemplate.BUILTINS, **gotemplate.SPRIG}.items()
             if name not in _REMOVED_BY_UPSTREAM}


def render(key: str, source: str, items: dict[str, str]) -> str:
    """Render template data `key` over the decrypted `items`."""
    try:
        return gotemplate.parse(source, FUNCTIONS).execute(gotemplate.StringMap(items))
    except gotemplate.TemplateError as ex:
        raise InputError(f"template: {key}: {ex}", where=f"spec.template.data.{key}") from None
