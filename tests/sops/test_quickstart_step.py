"""The quickstart's SOPS step: a local age identity and the demo files, readable by real sops."""

from __future__ import annotations

from pathlib import Path

import yaml

from secrets_kit.quickstart import QuickstartContext
from secrets_kit.quickstart.sops_steps import sops_encrypt_examples

from .conftest import REPO


def test_step_encrypts_the_demo_files(real_sops, tmp_path: Path) -> None:
    workdir = tmp_path / "qs"
    workdir.mkdir()
    ctx = QuickstartContext(examples=REPO / "examples", workdir=workdir)
    result = sops_encrypt_examples(ctx)
    keys = workdir / "keys" / "age.txt"
    assert keys.stat().st_mode & 0o777 == 0o600
    assert sorted(result.outputs) == ["keys/age.txt", "sops/app.env", "sops/demo-secret.yaml"]
    secret = (workdir / "sops" / "demo-secret.yaml").read_text()
    assert "not-a-real-password-1" not in secret
    doc = yaml.safe_load(secret)
    assert doc["metadata"]["name"] == "demo-db-credentials"  # only data/stringData are encrypted
    assert doc["stringData"]["password"].startswith("ENC[")
    for name in ("demo-secret.yaml", "app.env"):
        out = real_sops("decrypt", str(workdir / "sops" / name), env={"SOPS_AGE_KEY_FILE": str(keys)})
        assert out.returncode == 0, out.err
        source = (REPO / "examples" / "plaintext" / "sops" / name).read_bytes()
        if name.endswith(".yaml"):
            assert yaml.safe_load(out.stdout) == yaml.safe_load(source)
        else:
            assert out.stdout == source
    # A second run reuses the identity.
    again = sops_encrypt_examples(ctx)
    assert again.outputs == result.outputs and keys.read_text().count("AGE-SECRET-KEY") == 1


def test_identity_written_over_an_open_file_is_still_private(tmp_path: Path) -> None:
    """A keys file left without an identity (mode 0644): the new private key must not inherit that mode."""
    workdir = tmp_path / "qs"
    keys = workdir / "keys" / "age.txt"
    keys.parent.mkdir(parents=True)
    keys.write_text("# placeholder\n")
    keys.chmod(0o644)
    sops_encrypt_examples(QuickstartContext(examples=REPO / "examples", workdir=workdir))
    assert "AGE-SECRET-KEY-" in keys.read_text()
    assert keys.stat().st_mode & 0o777 == 0o600
