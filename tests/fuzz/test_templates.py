"""Go templates (SealedSecret `spec.template.data`, ESO's engine) over marked secret values.

Random programs from a grammar of actions, functions and hostile arguments (huge widths, counts,
ranges, nesting): each ends in output or a typed error, in time, and no error names a value
(the data holds only marked values, so any quoted datum shows).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from secrets_kit.externalsecrets.template import execute as eso_execute
from secrets_kit.gotemplate import TemplateError
from secrets_kit.sealed.template import render as sealed_render

from .harness import MARK, fuzz_settings, typed

DATA = {"password": MARK, "n": "7", "json": '{"a": "' + MARK + '", "b": [1, 2]}', "big": "999999999",
        "neg": "-5", "pem": "-----BEGIN CERTIFICATE-----\n" + MARK + "\n-----END CERTIFICATE-----\n"}

NUMBERS = ["0", "1", "-1", "7", "999999999", "99999999999999999999", "1e9", "(.n | atoi)", "(.big | atoi)",
           "(.neg | atoi)", "(len .password)"]
OPERANDS = [".password", ".n", ".json", ".missing", ".pem", "$", ".", '"x"', '"%s"', '"%999999999s"', '"%-50d"',
            "nil", "true", "(list 1 2)", "(dict \"a\" .password)", "(.json | fromJson)", *NUMBERS]
FUNCS = ["printf", "upper", "quote", "indent", "nindent", "repeat", "trunc", "replace", "b64dec", "b64enc", "index",
         "len", "slice", "toJson", "fromJson", "toYaml", "fromYaml", "atoi", "add", "default", "join", "splitList",
         "sha256sum", "filterPEM", "filterCertChain", "pkcs12cert", "htpasswd", "toString", "not", "and", "or", "eq",
         "lt", "print", "println", "html", "js", "urlquery", "call", "unknownFunc"]


@st.composite
def pipelines(draw: st.DrawFn, depth: int = 0) -> str:
    func = draw(st.sampled_from(FUNCS))
    args = draw(st.lists(st.sampled_from(OPERANDS) if depth > 1 else st.one_of(st.sampled_from(OPERANDS),
                                                                               pipelines(depth + 1).map("({})".format)),
                         max_size=3))
    head = " ".join([func, *args])
    if draw(st.booleans()):
        head = f"{draw(st.sampled_from(OPERANDS))} | {head}"
    return head


def _act(pipeline: str) -> str:
    return "{{ " + pipeline + " }}"


@st.composite
def templates(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(1, 4))):
        shape = draw(st.integers(0, 5))
        pipe = draw(pipelines())
        if shape == 0:
            pieces.append(_act(pipe))
        elif shape == 1:
            pieces.append(_act("range $i, $v := " + draw(st.sampled_from(OPERANDS))) + "{{ $v }}{{ end }}")
        elif shape == 2:
            n = draw(st.sampled_from(NUMBERS))
            pieces.append(_act("range " + n) + _act("range " + n) + "x{{ end }}{{ end }}")
        elif shape == 3:
            pieces.append(_act("if " + pipe) + "a{{ else }}" + _act(draw(pipelines())) + "{{ end }}")
        elif shape == 4:
            pieces.append(_act("with $x := " + pipe) + "{{ $x }}{{ end }}")
        else:
            pieces.append(draw(st.sampled_from(["{{", "}}", "{{/* c */}}", "{{- .password -}}", "{{ end }}",
                                                "{{ break }}", "{{ $y = 1 }}", "{{ define \"x\" }}", "text"])))
    return "".join(pieces)


def _sealed(source: str) -> object:
    return sealed_render("rendered", source, dict(DATA))


def _eso(source: str) -> object:
    try:
        return eso_execute("rendered", source, {k: v.encode() for k, v in DATA.items()})
    except TemplateError as ex:  # ESO's engine raises TemplateError; its callers wrap it per ExternalSecret
        assert MARK not in str(ex), f"a marked value in an ESO template error: {ex}"
        return ex


@fuzz_settings(ci=150, explore=3000)
@given(source=templates())
def test_sealed_templates(source: str) -> None:
    typed("template sealed", lambda: _sealed(source))


@fuzz_settings(ci=150, explore=3000)
@given(source=templates())
def test_eso_templates(source: str) -> None:
    typed("template eso", lambda: _eso(source))
