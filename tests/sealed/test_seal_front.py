"""`secrets-kit seal` runs its common command lines without click (cli/commands/seal_run.py); the
click command must agree with it on every parameter, and both must print the same help and errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from secrets_kit_cli.commands.seal import seal as seal_command
from secrets_kit_cli.commands.seal_run import SEAL_DEFAULTS, SEAL_OPTIONS, fast_parse

from .helpers import docs_of, secret, yaml_of

# `main` with the click-free front switched off: what `secrets-kit seal` printed before it existed.
CLICK_ONLY = ("import sys\nfrom secrets_kit_cli import main\nmain._seal_fast = lambda args: False\n"
              "main.main(sys.argv[1:])\n")


def test_the_table_matches_the_click_options():
    params = {p.name: p for p in seal_command.params}
    assert seal_command.make_context("seal", []).params == SEAL_DEFAULTS
    for spelling, opt in SEAL_OPTIONS.items():
        param = params[opt.dest]
        assert isinstance(param, click.Option), spelling
        assert spelling in param.opts + param.secondary_opts, spelling
        assert opt.takes_value == (not param.is_flag), spelling
        assert opt.multiple == param.multiple, spelling
        if param.is_flag:
            assert opt.const is (spelling not in param.secondary_opts), spelling
        kind = param.type
        assert opt.choices == (tuple(kind.choices) if isinstance(kind, click.Choice) else ()), spelling
        if isinstance(kind, click.Path):
            assert not kind.exists and kind.readable and not kind.writable, spelling
            assert opt.path == ("file" if not kind.dir_okay else "dir" if not kind.file_okay else ""), spelling
        else:
            assert opt.path == "", spelling


@pytest.mark.parametrize("args", [
    [],
    ["-", "--cert", "c.pem", "--cert=d.pem", "-n", "ns", "--scope", "cluster-wide", "-o", "json"],
    ["a.yaml", "dir", "--out-dir", "out", "--keys-dir", "keys", "--allow-empty-data", "--no-progress"],
    ["--clusters", "reg.yaml", "--cluster", "a", "--cluster", "b", "--context", "ctx", "--dry-run", "--progress",
     "--report", "json", "--controller-name", "c", "--controller-namespace", "ns"],
    ["--all-clusters", "--from-cluster", "--kubeconfig", "kc", "--name", "x", "-w", "out.yaml", "--", "-odd"],
])
def test_the_click_free_parse_is_clicks(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fast_parse(args) == seal_command.make_context("seal", list(args)).params


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--edit", "x.yaml"], ["--re-encrypt"], ["-k", "key.pem"], ["--from-literal", "a=b"],
    ["--scope", "bogus"], ["-o", "xml"], ["--cert"], ["--nope"], ["-oyaml"], ["--dry-run=yes"],
    ["--out-dir", "file.txt"], ["-w", "."], ["--kubeconfig", "."],
])
def test_anything_else_goes_to_click(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    assert fast_parse(args) is None


def _run(code: list[str], args: list[str], cwd: Path, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, *code, *args], input=stdin, capture_output=True, cwd=cwd, timeout=60,
                          check=False, env={"KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin", "COLUMNS": "80"})


@pytest.mark.parametrize("case", [
    ["--help"], ["--scope", "bogus"], ["--cert"], ["--nope"], ["-o", "xml", "--cert", "{cert}"],
    ["--cert", "{cert}", "-w", "x.yaml", "--out-dir", "d"],
    ["--cert", "{cert}", "--cert", "{cert}", "-w", "x.yaml"],
    ["--cert", "{cert}", "--name", "x", "a.yaml", "b.yaml"],
    ["--cert", "missing.pem"],
    ["--cert", "{cert}", "--out-dir", "file.txt"],
])
def test_help_and_errors_are_clicks_word_for_word(case, tmp_path, cert_file):
    (tmp_path / "file.txt").write_text("x")
    stdin = yaml_of(secret(string_data={"password": "front-value"})).encode()
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_bytes(stdin)
    args = ["seal", *(a.format(cert=cert_file) for a in case)]
    fast = _run(["-m", "secrets_kit_cli"], args, tmp_path, stdin)
    slow = _run(["-c", CLICK_ONLY], args, tmp_path, stdin)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert fast.returncode != 0 or case == ["--help"]
    assert b"front-value" not in fast.stdout + fast.stderr


def test_a_seal_through_the_front_is_a_seal_through_click(tmp_path, cert_file):
    stdin = yaml_of(secret(string_data={"password": "front-value"})).encode()
    args = ["seal", "--cert", str(cert_file), "-o", "json"]
    fast = _run(["-m", "secrets_kit_cli"], args, tmp_path, stdin)
    slow = _run(["-c", CLICK_ONLY], args, tmp_path, stdin)
    assert fast.returncode == slow.returncode == 0, fast.stderr
    assert fast.stderr == slow.stderr
    sealed_fast, sealed_slow = docs_of(fast.stdout)[0], docs_of(slow.stdout)[0]
    assert sealed_fast["spec"]["encryptedData"].keys() == sealed_slow["spec"]["encryptedData"].keys() == {"password"}
    sealed_fast["spec"]["encryptedData"] = sealed_slow["spec"]["encryptedData"] = {}
    assert sealed_fast == sealed_slow
