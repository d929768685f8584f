"""The engine's own contract: the caller's function table, parse once / execute many, limits, no data in errors."""

from __future__ import annotations

import pytest

from secrets_kit import gotemplate
from secrets_kit.gotemplate import BUILTINS, SPRIG, TemplateError


def test_only_the_callers_functions_exist():
    assert gotemplate.parse("{{ len . }}").execute("abc") == "3"  # the default table is Go's built-ins
    with pytest.raises(TemplateError, match='function "upper" not defined'):
        gotemplate.parse("{{ upper . }}")
    assert gotemplate.parse("{{ upper . }}", {**BUILTINS, **SPRIG}).execute("abc") == "ABC"


def test_tables_compose_and_a_callers_function_overrides():
    funcs = {**BUILTINS, **SPRIG, "upper": lambda s: f"<{s}>", "pair": lambda a, b: f"{a}={b}"}
    template = gotemplate.parse('{{ .k | upper }} {{ pair "x" .k }}', funcs)
    assert template.execute({"k": "v"}) == "<v> x=v"


def test_a_parsed_template_runs_many_times_with_its_own_variables():
    template = gotemplate.parse("{{ $n := 0 }}{{ range . }}{{ $n = add $n . }}{{ end }}{{ $n }}", {**BUILTINS, **SPRIG})
    assert [template.execute([1, 2]), template.execute([5]), template.execute([])] == ["3", "5", "0"]


def test_the_function_table_is_copied_when_parsing():
    funcs = {**BUILTINS, "f": lambda: "one"}
    template = gotemplate.parse("{{ f }}", funcs)
    funcs["f"] = lambda: "two"
    assert template.execute(None) == "one"


def test_deep_nesting_is_an_error_not_a_crash():
    deep = "{{ if true }}" * 5000 + "x" + "{{ end }}" * 5000
    with pytest.raises(TemplateError, match="nested too deeply"):
        gotemplate.parse(deep).execute(None)
    parens = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    with pytest.raises(TemplateError, match="nested too deeply"):
        gotemplate.parse(parens).execute(None)


def test_a_failing_function_names_itself_not_its_argument():
    funcs = {**BUILTINS, "boom": lambda s: int(s)}
    with pytest.raises(TemplateError) as caught:
        gotemplate.parse("{{ boom . }}", funcs).execute("hunter2-secret")
    assert str(caught.value) == "error calling boom: ValueError"


def test_range_error_names_the_type_not_the_value():
    with pytest.raises(TemplateError) as caught:
        gotemplate.parse("{{ range . }}x{{ end }}").execute("hunter2-secret")
    assert "hunter2" not in str(caught.value)
    assert str(caught.value) == "range can't iterate over a value of type string"


@pytest.mark.parametrize("word", ["define", "template", "block"])
def test_named_templates_are_refused(word):
    with pytest.raises(TemplateError, match=f"{{{{{word}}}}} is not supported"):
        gotemplate.parse(f'{{{{ {word} "x" }}}}{{{{ end }}}}')
