"""No value in any message: every failure path run through the CLI with marked values.

Each case runs `secrets-kit ...` in a subprocess (so library warnings reach the real stderr, as a
user sees them) on input whose every value carries a mark; stdout, stderr and every file the run
wrote are searched for the mark. Plaintext output the user asked for (`unseal` to stdout) is the
one place a value may appear, so cases that succeed are the warning cases, and they check stderr.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from secrets_kit.k8s.manifests import dump_yaml
from secrets_kit.sealed.keys import cert_pem, generate_key_pair, private_key_pem
from secrets_kit.sealed.model import seal_secret

MARK = "M4RK3D-v4lue"
NUMBER = "31337"  # a marked value that templates read as a number


def _cli(*args: str | Path, input: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "secrets_kit_cli", *map(str, args)], input=input.encode(),
                          capture_output=True, cwd=cwd, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "KUBECONFIG": "/dev/null",
                               "PYTHONWARNINGS": "default"})  # every warning shown, as a user may have it set


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    folder = tmp_path_factory.mktemp("keys")
    key, cert = generate_key_pair(bits=2048)
    (folder / "k.key").write_bytes(private_key_pem(key))
    (folder / "k.crt").write_bytes(cert_pem(cert))
    return folder / "k.key", folder / "k.crt", key


def _secret_text(body: str) -> str:
    return "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\n" + body


SEAL_INPUTS = {
    "reused anchor": _secret_text(f"stringData:\n  a: &x {MARK}-1\n  b: &x {MARK}-2\n  c: *x\n"),
    "undefined alias": _secret_text(f"stringData:\n  a: *{MARK}\n"),
    "duplicate key": _secret_text(f"stringData:\n  a: {MARK}-1\n  a: {MARK}-2\n"),
    "bad base64": _secret_text(f"data:\n  a: {MARK}!\n"),
    "unterminated quote": _secret_text(f'stringData:\n  a: "{MARK}\n'),
    "tab in value": _secret_text(f"stringData:\n  a: {MARK}\t\n\tb: 1\n"),
    "deep nesting": _secret_text("stringData:\n  a: " + "[" * 300 + MARK + "]" * 300 + "\n"),
    "alias bomb": _secret_text(f"x0: &x0 [{MARK}, {MARK}, {MARK}, {MARK}, {MARK}, {MARK}, {MARK}, {MARK}]\n"
                               + "".join(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 8) + "]\n" for i in range(1, 9))),
    "control character": _secret_text(f"stringData:\n  a: {MARK}\x01\n"),
    "lone surrogate": '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, '
                      f'"stringData": {{"a": "{MARK}\\ud800"}}}}',
}


def _written(folder: Path, inputs: set[str]) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.name not in inputs]


def _no_mark(done: subprocess.CompletedProcess[bytes], folder: Path, inputs: set[str]) -> None:
    for stream in (done.stdout, done.stderr):
        assert MARK.encode() not in stream and NUMBER.encode() not in stream, stream.decode("utf-8", "replace")
    for path in _written(folder, inputs):
        data = path.read_bytes()
        assert MARK.encode() not in data, f"{path} holds a marked value"
    assert done.returncode != 1 or b"Traceback" not in done.stderr


@pytest.mark.parametrize("case", list(SEAL_INPUTS))
@pytest.mark.parametrize("door", ["seal", "kubeseal"])
def test_seal_failure_paths(case: str, door: str, keys: tuple[Path, Path, object], tmp_path: Path) -> None:
    _, crt, _ = keys
    (tmp_path / "in.yaml").write_text(SEAL_INPUTS[case], encoding="utf-8", errors="surrogatepass")
    args: list[str | Path] = ["seal", "--cert", crt, "--out-dir", tmp_path / "out", tmp_path / "in.yaml"] \
        if door == "seal" else ["kubeseal", "--cert", crt, "-o", "yaml", "-w", tmp_path / "out.yaml"]
    done = _cli(*args, input=SEAL_INPUTS[case] if door == "kubeseal" else "", cwd=tmp_path)
    _no_mark(done, tmp_path, {"in.yaml"})
    if door == "seal" and done.returncode != 0:
        assert done.returncode in (2, 3, 4, 5), done.stderr  # typed: exit 1 is for bugs only
        assert not (tmp_path / "out").exists()  # nothing half-written


TEMPLATES = {
    "range over a decrypted number": "{{ range $i, $v := (.n | atoi) }}{{ end }}",
    "index by a decrypted number": "{{ index (list 1) (.n | atoi) }}",
    "field of a decrypted string": "{{ .pw.x }}",
    "range over a decrypted string": "{{ range .pw }}{{ end }}",
    "width from a decrypted number": '{{ printf "%*d" (.n | atoi) 1 }}{{ repeat (.n | atoi | add 999999999) "x" }}',
}


@pytest.mark.parametrize("case", list(TEMPLATES))
@pytest.mark.parametrize("door", ["unseal", "recovery-unseal"])
def test_unseal_template_failures(case: str, door: str, keys: tuple[Path, Path, object], tmp_path: Path) -> None:
    key_file, _, key = keys
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
              "data": {"pw": base64.b64encode(MARK.encode()).decode(), "n": base64.b64encode(NUMBER.encode()).decode()}}
    sealed = seal_secret(secret, key.public_key())  # type: ignore[attr-defined]
    sealed["spec"]["template"]["data"] = {"rendered": TEMPLATES[case]}
    text = dump_yaml(sealed)
    (tmp_path / "sealed.yaml").write_text(text)
    if door == "unseal":
        done = _cli("unseal", "-k", key_file, "--out-dir", tmp_path / "out", tmp_path / "sealed.yaml", input="",
                    cwd=tmp_path)
    else:
        done = _cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file, input=text, cwd=tmp_path)
    assert done.returncode != 0
    _no_mark(done, tmp_path, {"sealed.yaml"})
