"""SealedSecret template data: the upstream function table and errors that name the template key."""

from __future__ import annotations

import pytest

from secrets_kit.errors import InputError
from secrets_kit.sealed.template import FUNCTIONS, render


def test_upstream_removes_host_reading_functions():
    assert not {"env", "expandenv", "getHostByName"} & FUNCTIONS.keys()
    assert {"printf", "index", "b64enc", "toJson", "default"} <= FUNCTIONS.keys()
    with pytest.raises(InputError, match='template: k: function "env" not defined'):
        render("k", '{{ env "HOME" }}', {})


def test_items_are_a_go_string_map():
    assert render("k", '{{ index . "missing" }}|{{ .missing }}|{{ .a }}', {"a": "1"}) == "|<no value>|1"


def test_errors_name_the_key_and_never_the_value():
    with pytest.raises(InputError) as caught:
        render("dsn", "{{ range .password }}x{{ end }}", {"password": "hunter2-secret"})
    assert "hunter2" not in str(caught.value)
    assert "template: dsn: range can't iterate over" in str(caught.value)
    assert caught.value.where == "spec.template.data.dsn"


def test_deep_nesting_is_an_input_error():
    with pytest.raises(InputError, match="template: k: nested too deeply"):
        render("k", "{{ if true }}" * 5000 + "{{ end }}" * 5000, {})
