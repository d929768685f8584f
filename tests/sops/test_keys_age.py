"""`secrets-kit keys age`: an age identity without another tool, accepted by the real age and sops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import REPO


def _keys(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secrets_kit_cli", "keys", *args], capture_output=True, text=True,
                          env=env if env is not None else dict(os.environ), check=False, timeout=60)


def test_identity_works_with_real_age_and_sops(tmp_path: Path, age_bin: Path, age_keygen_bin: Path,
                                              sops_bin: Path) -> None:
    identity = tmp_path / "id" / "keys.txt"
    out = _keys("age", "-o", str(identity))
    assert out.returncode == 0, out.stderr
    recipient = out.stdout.strip()
    assert recipient.startswith("age1") and "AGE-SECRET-KEY" not in out.stdout + out.stderr
    assert identity.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in identity.parent.iterdir()] == ["keys.txt"]  # no temporary file left behind
    # age-keygen -y reads our file and derives the same recipient; ours reads it back too.
    derived = subprocess.run([str(age_keygen_bin), "-y", str(identity)], capture_output=True, text=True, check=False)
    assert derived.returncode == 0 and derived.stdout.strip() == recipient
    assert _keys("age", "-y", "-o", str(identity)).stdout.strip() == recipient
    # The real age encrypts to the recipient and decrypts with the identity.
    sealed = subprocess.run([str(age_bin), "-r", recipient], input=b"fake-demo-value", capture_output=True, check=False)
    opened = subprocess.run([str(age_bin), "-d", "-i", str(identity)], input=sealed.stdout, capture_output=True,
                            check=False)
    assert opened.returncode == 0 and opened.stdout == b"fake-demo-value"
    # The real sops encrypts for it and decrypts with it.
    plain = REPO / "examples" / "plaintext" / "sops" / "demo-secret.yaml"
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(identity)}
    enc = subprocess.run([str(sops_bin), "encrypt", "--age", recipient, str(plain)], capture_output=True, env=env,
                         check=False)
    assert enc.returncode == 0, enc.stderr.decode()
    encrypted = tmp_path / "demo.sops.yaml"
    encrypted.write_bytes(enc.stdout)
    dec = subprocess.run([str(sops_bin), "decrypt", str(encrypted)], capture_output=True, env=env, check=False)
    assert dec.returncode == 0 and yaml.safe_load(dec.stdout) == yaml.safe_load(plain.read_bytes())


def test_refuses_to_overwrite_and_defaults_to_where_sops_looks(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    first = _keys("age", env=env)
    assert first.returncode == 0, first.stderr
    default = tmp_path / "config" / "sops" / "age" / "keys.txt"
    assert str(default) in first.stderr and default.stat().st_mode & 0o777 == 0o600
    before = default.read_bytes()
    again = _keys("age", env=env)
    assert again.returncode == 3 and "refusing to overwrite an existing file" in again.stderr
    assert default.read_bytes() == before
    assert _keys("age", "-y", env=env).stdout.strip() == first.stdout.strip()
    # $SOPS_AGE_KEY_FILE is where sops reads from, so it is the default too.
    chosen = tmp_path / "chosen.txt"
    assert _keys("age", env={**env, "SOPS_AGE_KEY_FILE": str(chosen)}).returncode == 0 and chosen.is_file()


def test_recipient_of_a_missing_or_empty_file(tmp_path: Path) -> None:
    missing = _keys("age", "-y", "-o", str(tmp_path / "none.txt"))
    assert missing.returncode == 5 and "none.txt: no age identity file" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n")
    out = _keys("age", "-y", "-o", str(empty))
    assert out.returncode == 3 and "no AGE-SECRET-KEY line" in out.stderr
