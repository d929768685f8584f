"""The engine against Go's text/template with Sprig v3.3.0 (the versions kubeseal v0.36.6 uses).

The peer is a short Go program built once from the Go module proxy into the peer cache. Both sides get
the same function table: Sprig without env, expandenv and getHostByName, plus one caller's function
(`twice`), so a caller's additions are compared too.
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

from secrets_kit import gotemplate
from secrets_kit.gotemplate import BUILTINS, SPRIG, StringMap, TemplateError
from tests.peers.cache import bin_dir

GO_MAIN = """package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// One template per stdin line (a JSON string), rendered over the JSON map in argv[1]: Sprig without
// env, expandenv and getHostByName (as SealedSecret.Unseal), plus a caller's own function.
func main() {
	funcs := sprig.GenericFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	delete(funcs, "getHostByName")
	funcs["twice"] = func(s string) string { return strings.Repeat(s, 2) }
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

# range, variables, with/else, break/continue, Sprig's add coercion and index on strings.
# ({{define}} and {{block}} are refused by design, so they are not compared.)
CASES += [
    "{{ range . }}{{ . }},{{ end }}",
    "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}",
    "{{ range $v := . }}[{{ $v }}]{{ end }}",
    "{{- range $k, $v := . }}\n  {{ $k }}: {{ $v | quote }}\n{{- end }}",
    '{{ range $i, $e := list "x" "y" "z" }}{{ $i }}:{{ $e }} {{ end }}',
    '{{ range splitList "," "a,b,c" }}<{{ . }}>{{ end }}',
    "{{ range .missing }}x{{ else }}empty{{ end }}",
    "{{ range list }}x{{ else }}none{{ end }}",
    "{{ range dict }}x{{ else }}none{{ end }}",
    "{{ range 3 }}{{ . }}{{ end }}", "{{ range $i := 0 }}x{{ else }}zero{{ end }}",
    "{{ range $i, $e := 3 }}{{ end }}",
    "{{ range .a }}{{ . }}{{ end }}", "{{ range true }}{{ end }}",
    "{{ range $k, $v := . }}{{ if eq $k \"b\" }}{{ break }}{{ end }}{{ $k }}{{ end }}",
    "{{ range $k, $v := . }}{{ if eq $k \"b\" }}{{ continue }}{{ end }}{{ $k }}{{ end }}",
    "{{ break }}", "{{ range . }}{{ else }}{{ break }}{{ end }}", "{{ range . }}{{ continue 1 }}{{ end }}",
    "{{ range . }}{{ $.a }}{{ end }}",
    "{{ range . }}{{ $x := . }}{{ end }}{{ $x }}",
    "{{ range $k, $v := . }}{{ end }}{{ $k }}",
    "{{ $n := 0 }}{{ range . }}{{ $n = add $n 1 }}{{ end }}{{ $n }}",
    "{{ range $k, $v := . }}{{ else }}{{ $k }}{{ end }}",
    "{{ range $a, $b, $c := . }}{{ end }}",
    "{{ range $a, .b }}{{ end }}",
    "{{ $x := .a }}{{ $x }}-{{ $x | quote }}",
    "{{ $x := .a }}{{ $x = .b }}{{ $x }}",
    "{{ $y = 1 }}", "{{ $y }}", "{{ if false }}{{ $nope }}{{ end }}",
    "{{ $x := 1 }}{{ $x := 2 }}{{ $x }}",
    "{{ if .a }}{{ $x := 1 }}{{ end }}{{ $x }}",
    "{{ if $x := .a }}{{ $x }}{{ else }}{{ $x }}none{{ end }}",
    "{{ if $x := .missing }}yes{{ else }}[{{ $x }}]{{ end }}",
    "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
    "{{ $x, $y := 1 }}", "{{ $ }}", "{{ $.a }}{{ $.missing }}", "{{ with $.b }}{{ . }}{{ $.a }}{{ end }}",
    "{{ $x := dict \"k\" \"v\" }}{{ $x.k }}", "{{ $x := .a }}{{ $x.k }}",
    "{{ with $x := .a }}{{ . }}{{ $x }}{{ end }}",
    "{{ with .missing }}x{{ else }}no{{ end }}",
    "{{ with .missing }}x{{ else with .b }}b{{ . }}{{ end }}",
    "{{ with .a }}x{{ else if .b }}y{{ end }}", "{{ if .a }}x{{ else with .b }}y{{ end }}",
    "{{ if .a }}x{{ else }}y{{ else }}z{{ end }}", "{{ else }}", "{{ end }}x", "{{ if .a }}x{{ end .a }}",
    "{{ with . }}{{ range $k, $v := . }}{{ $k }}{{ end }}{{ end }}",
    "{{ range $i, $e := list \"a\" \"b\" }}{{ range $j, $f := list 1 2 }}{{ $i }}{{ $j }}{{ $e }}{{ $f }} {{ end }}{{ end }}",
    "{{ range . -}}\n  {{ . }}\n{{- else -}}\n  none\n{{- end }}",
    "{{ nil }}", "{{ print nil }}",
    '{{ add "abc" 1 }}', '{{ add "0x10" "010" "1.0" "1.5" "1.0." "+3" "1_000" true 2.7 .missing }}',
    '{{ add "08" " 1" "-0b11" "0o17" "1__0" "9223372036854775808" }}', "{{ add .a .b }}", "{{ add }}",
    '{{ atoi "+5" }}|{{ atoi "1_0" }}|{{ atoi " 1" }}|{{ atoi "0x1" }}',
    '{{ index .a 0 }}', '{{ index .user 1 }}', '{{ index .a 1 }}', '{{ index .a -1 }}', '{{ index .a true }}',
    '{{ index .a "0" }}', '{{ index . 1 }}', '{{ index (dict "a" 1) "b" }}', '{{ index (list 1 2) 1 }}',
    '{{ index (list 1 2) 2 }}', '{{ index . "a" 0 }}', '{{ index .a 0 0 }}', '{{ index .missing 0 }}', '{{ index . }}',
    '{{ printf "%c" (index .user 0) }}', '{{ index "é" 1 }}',
    '{{ range $i, $c := .user }}{{ end }}',
    '{{ template "x" }}',
    '{{ $k := 0 }}{{ $v := 0 }}{{ range $k, $v = . }}{{ end }}{{ $k }}={{ $v }}',
    '{{ $e := 0 }}{{ range $e = list 1 2 }}[{{ $e }}]{{ end }}{{ $e }}',
]

# Function names are checked when parsing, even in a branch that never runs; a caller's function.
CASES += [
    "{{ if false }}{{ nope }}{{ end }}", "{{ if false }}{{ .a | nope }}{{ end }}", "{{ .a | twice }}",
    '{{ twice "ab" | upper }}', "{{ with .missing }}{{ twice . }}{{ end }}ok",
]
FUNCS = {**BUILTINS, **SPRIG, "twice": lambda s: s * 2}


def render(source: str) -> str:
    return gotemplate.parse(source, FUNCS).execute(StringMap(DATA))


def test_same_output_as_go_text_template(go_template_bin):
    done = subprocess.run([str(go_template_bin), json.dumps(DATA)], input="\n".join(map(json.dumps, CASES)) + "\n",
                          capture_output=True, text=True, timeout=60, check=True)
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(CASES)
    for source, go in zip(CASES, results, strict=True):
        if go["err"]:
            with pytest.raises(TemplateError):
                render(source)
        else:
            assert render(source) == go["out"], source
