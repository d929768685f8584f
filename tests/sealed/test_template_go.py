"""Our template subset against Go's text/template with Sprig v3.3.0 (the versions kubeseal v0.36.6 uses).

The peer is a ten-line Go program built once from the Go module proxy into the peer cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from secrets_kit.errors import InputError
from secrets_kit.sealed.template import render
from tests.peers.cache import bin_dir

GO_MAIN = """package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// One template per stdin line (a JSON string), rendered over the JSON map in argv[1], like
// SealedSecret.Unseal: Sprig without env, expandenv and getHostByName.
func main() {
	funcs := sprig.GenericFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	delete(funcs, "getHostByName")
	data := map[string]string{}
	json.Unmarshal([]byte(os.Args[1]), &data)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var src string
		json.Unmarshal(in.Bytes(), &src)
		var out bytes.Buffer
		t, err := template.New("k").Funcs(funcs).Parse(src)
		if err == nil {
			err = t.Execute(&out, data)
		}
		res := map[string]any{"out": out.String(), "err": err != nil}
		line, _ := json.Marshal(res)
		fmt.Println(string(line))
	}
}
"""
GO_MOD = "module gotpl\n\ngo 1.24\n\nrequire github.com/Masterminds/sprig/v3 v3.3.0\n"


@pytest.fixture(scope="session")
def go_template_bin() -> Path:
    stamp = hashlib.sha256((GO_MAIN + GO_MOD).encode()).hexdigest()[:12]
    target = bin_dir() / f"gotemplate-sprig-{stamp}"
    if target.exists():
        return target
    if shutil.which("go") is None:
        pytest.skip("go not found: install Go to build the text/template peer")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "main.go").write_text(GO_MAIN)
        Path(tmp, "go.mod").write_text(GO_MOD)
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
        done = subprocess.run(["go", "build", "-o", str(target), "."], cwd=tmp, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot build the Go text/template peer (go build): {done.stderr[-300:]}")
    return target


DATA = {"a": "1", "b": "2", "user": "admin", "pass": "p@ss", "html": "<b>&"}
CASES = [
    "{{ .a }}-{{ .b }}", '{{ index . "a" }}{{ index . "missing" }}|', "{{ .missing }}",
    '{{ if eq .a "1" }}one{{ else }}other{{ end }}', "{{- if .missing }}x{{ else if .b }}b={{ .b }}{{ end -}}",
    "{{ with .b }}[{{ . }}]{{ end }}", '{{ .a | quote }} {{ "x" | squote }}', '{{ default "d" .missing }}/{{ .a }}',
    '{{ printf "%05d|%-3s|%q" 42 .a .b }}', "{{ .a | b64enc | b64dec }}", '{{ "a,b" | splitList "," | join "+" }}',
    "{{ .b | sha256sum | trunc 8 }}", "{{ toJson . }}", "{{/* comment */}}x", "  {{- .a }}  {{ .b -}}  !",
    "postgres://{{ .user }}:{{ .pass | urlquery }}@db/x", '{{ printf "%s:%s" .user .pass | b64enc }}',
    "{{ .user | upper }}{{ .user | title }}", "{{ len . }}", "{{ cat .a .b }}", "{{ .a | indent 2 }}",
    "{{ .a | nindent 2 }}", '{{ ternary "y" "n" (eq .a "1") }}', '{{ .a | replace "1" "one" }}',
    '{{ trimSuffix "s" "pass" }}', '{{ hasPrefix "ad" .user }}', "{{ print .a 1 true }}", "{{ println .a .b }}",
    '{{ printf "%v %d" .a 7 }}', "{{ not .missing }}", "{{ and .a .b }}|{{ or .missing .b }}",
    "{{ coalesce .missing .b }}", "{{ .user | trunc -2 }}", '{{ html "<a>" }}', "{{ empty .missing }}",
    "{{ sha1sum .a }}", "{{ b32enc .a }}", '{{ dict "k" .html | toJson }}', "{{ list 1 2 | toJson }}",
    "{{ .html }}", "{{ .a", "{{ nope .a }}", "{{ if .a }}", "{{ end }}", '{{ env "HOME" }}',
]


def test_same_output_as_go_text_template(go_template_bin):
    done = subprocess.run([str(go_template_bin), json.dumps(DATA)], input="\n".join(map(json.dumps, CASES)) + "\n",
                          capture_output=True, text=True, timeout=60, check=True)
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(CASES)
    for source, go in zip(CASES, results, strict=True):
        if go["err"]:
            with pytest.raises(InputError):
                render("k", source, DATA)
        else:
            assert render("k", source, DATA) == go["out"], source
