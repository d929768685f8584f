"""The CLI skeleton: help, version, lazy imports, error-to-exit-code mapping."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from secrets_kit_cli import main as cli_main

from secrets_kit import __version__
from secrets_kit.errors import (
    EXIT_CONFIG,
    EXIT_DECRYPT,
    EXIT_INPUT,
    EXIT_KEYS,
    EXIT_PROVIDER,
    EXIT_RENDER,
    ConfigError,
    DecryptionError,
    InputError,
    KeyMaterialError,
    ProviderError,
    RenderError,
)

HEAVY = ("boto3", "botocore", "google.cloud", "kopf", "kubernetes", "hvac", "rich", "ruamel.yaml", "grpc")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secrets_kit_cli", *args], capture_output=True, text=True)


def test_help_lists_every_front_door() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for name in ("seal", "unseal", "keys", "kubeseal", "sops", "render", "operator", "hook", "quickstart"):
        assert f"\n  {name} " in out.stdout, name
    assert "Exit codes" in out.stdout


def test_version() -> None:
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"secrets-kit, version {__version__}"


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from secrets_kit_cli.main import cli\n"
        "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        f"print([m for m in sys.modules if m.startswith({HEAVY!r})])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InputError("not a Secret", where="a.yaml"), EXIT_INPUT),
        (DecryptionError("no key could decrypt", where="s.yaml:data.password"), EXIT_DECRYPT),
        (KeyMaterialError("certificate expired", where="cert.pem", hint="pass --allow-expired"), EXIT_KEYS),
        (ProviderError("connection refused", where="vault"), EXIT_PROVIDER),
        (ConfigError("invalid regex", where=".sops.yaml"), EXIT_CONFIG),
        (RenderError("kustomize failed", where="deploy/prod"), EXIT_RENDER),
        (DecryptionError("MAC mismatch", where="f.yaml", exit_code=51), 51),
        (InputError("kustomize failed:\nError: accumulating resources\n  at line 3", where="deploy"), EXIT_INPUT),
    ],
)
def test_errors_map_to_exit_codes_and_one_line(
    error: Exception, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @click.command()
    def boom() -> None:
        raise error

    monkeypatch.setitem(cli_main.cli.commands, "boom", boom)
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["boom"])
    assert exited.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("secrets-kit: error: ")
    assert " ".join(str(error).split()) in err and "Traceback" not in err


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    def boom() -> None:
        raise InputError("bad")

    monkeypatch.setitem(cli_main.cli.commands, "boom", boom)
    with pytest.raises(InputError):
        cli_main.main(["--debug", "boom"])


def test_unexpected_exceptions_do_not_print_their_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An unexpected exception's text may hold anything, a secret included: only its type is shown.
    @click.command()
    def boom() -> None:
        raise ValueError("hunter2")

    monkeypatch.setitem(cli_main.cli.commands, "boom", boom)
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["boom"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and "ValueError" in err


def test_error_location_and_hint_are_formatted() -> None:
    err = InputError("expected kind Secret, found ConfigMap", where="app/cm.yaml#2", hint="seal only Secrets")
    assert str(err) == "app/cm.yaml#2: expected kind Secret, found ConfigMap (seal only Secrets)"


def test_unknown_command_is_a_usage_error() -> None:
    out = run_cli("no-such-command")
    assert out.returncode == 2
    assert "No such command" in out.stderr


def test_quickstart_runs_on_the_examples(tmp_path: object) -> None:
    out = run_cli("quickstart", "--workdir", str(tmp_path), "-o", "json")
    assert out.returncode == 0, out.stderr
    assert '"step": "inventory"' in out.stdout


def test_repository_root_does_not_shadow_the_stdlib_operator_module() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", "import operator, secrets_kit_operator; print(operator.eq(1, 1))"],
                         cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
