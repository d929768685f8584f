"""`secrets-kit hook pre-commit` and `.pre-commit-hooks.yaml`, on temporary Git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import Age, run_cli
from .helpers import SECRET_REGEX, sops_encrypt, write

VALUE = "precommit-value-Lk2-plaintext"
SECRET = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: n}}\nstringData: {{password: {VALUE}}}\n"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args], cwd=repo,
                          capture_output=True, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    assert _git(root, "init", "-q").returncode == 0
    return root


def _hook(repo: Path, env: dict[str, str], *files: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli(["hook", "pre-commit", *files], env=env, cwd=repo)


def _refused(out: subprocess.CompletedProcess[bytes], *expected: str) -> str:
    text = out.stderr.decode()
    assert out.returncode == 1, text
    for item in expected:
        assert item in text, text
    assert VALUE not in text and out.stdout == b""
    return text


def test_plaintext_secret_refused_with_fix(repo: Path, render_env: dict[str, str]) -> None:
    write(repo / "app" / "secret.yaml", SECRET)
    _git(repo, "add", "-A")
    text = _refused(_hook(repo, render_env), "app/secret.yaml: plaintext Secret s",
                    "fix: secrets-kit sops encrypt --in-place --encrypted-regex '^(data|stringData)$' app/secret.yaml")
    assert "secrets-kit seal app/secret.yaml" in text


def test_sops_encrypted_secret_accepted(repo: Path, sops_bin: Path, age_identity: Age,
                                        render_env: dict[str, str]) -> None:
    plain = write(repo / "secret.yaml", SECRET)
    sops_encrypt(sops_bin, age_identity.recipient, plain, repo / "secret.sops.yaml", regex=SECRET_REGEX)
    _git(repo, "add", "-A")
    out = _hook(repo, render_env)
    assert out.returncode == 0, out.stderr.decode()


def test_partly_encrypted_secret_refused(repo: Path, sops_bin: Path, age_identity: Age,
                                         render_env: dict[str, str]) -> None:
    plain = write(repo / "secret.yaml", SECRET)  # stringData, but only `data` gets encrypted
    sops_encrypt(sops_bin, age_identity.recipient, plain, repo / "secret.sops.yaml", regex="^data$")
    _git(repo, "add", "-A")
    _refused(_hook(repo, render_env), "SOPS-encrypted but some data/stringData values are in plaintext")


def test_secret_inside_a_list_and_unparseable_yaml(repo: Path, render_env: dict[str, str]) -> None:
    body = "\n".join("    " + line for line in SECRET.splitlines())
    write(repo / "list.yaml", f"apiVersion: v1\nkind: List\nitems:\n  -\n{body}\n")
    write(repo / "broken.yaml", "kind: Secret\nstringData: {a: [\n")
    _git(repo, "add", "-A")
    _refused(_hook(repo, render_env), "list.yaml: plaintext Secret s", "broken.yaml: unparseable YAML")


def test_allowed_fixture_and_other_kinds_pass(repo: Path, render_env: dict[str, str]) -> None:
    write(repo / "fixture.yaml", SECRET.replace("metadata: {", "metadata: {annotations: "
                                                "{secrets-kit.io/allow-plaintext: 'true'}, "))
    write(repo / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    write(repo / "empty.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: e}\ntype: kubernetes.io/service-account-token\n")
    _git(repo, "add", "-A")
    out = _hook(repo, render_env)
    assert out.returncode == 0, out.stderr.decode()


def test_sops_yaml_rules(repo: Path, sops_bin: Path, age_identity: Age, render_env: dict[str, str]) -> None:
    write(repo / ".sops.yaml", f"creation_rules:\n  - path_regex: secrets/.*\\.env$\n    age: {age_identity.recipient}\n"
                               f"  - age: {age_identity.recipient}\n")
    write(repo / "secrets" / "plain.env", f"TOKEN={VALUE}\n")
    encrypted = write(repo / "secrets" / "ok.env", f"TOKEN={VALUE}\n")
    subprocess.run([str(sops_bin), "encrypt", "--in-place", str(encrypted)], cwd=repo, check=True,
                   capture_output=True)
    write(repo / "other" / "free.env", "A=1\n")  # only the catch-all rule matches: not a requirement
    _git(repo, "add", "-A")
    text = _refused(_hook(repo, render_env), "secrets/plain.env: .sops.yaml says this file must be encrypted",
                    "fix: secrets-kit sops encrypt --in-place secrets/plain.env")
    assert "ok.env" not in text and "free.env" not in text


def test_kustomization_generators(repo: Path, sops_bin: Path, age_identity: Age,
                                  render_env: dict[str, str]) -> None:
    write(repo / "app" / "kustomization.yaml", """\
secretGenerator:
  - name: lit
    literals: [password=x]
  - name: env
    envs: [plain.env, enc.env]
  - name: files
    files: [key.pem=../shared/key.pem]
""")
    write(repo / "app" / "plain.env", "A=1\n")
    enc = write(repo / "app" / "enc.env", "B=2\n")
    sops_encrypt(sops_bin, age_identity.recipient, enc, repo / "app" / "enc.env", input_type="dotenv")
    write(repo / "shared" / "key.pem", "-----BEGIN FAKE KEY-----\n")
    _git(repo, "add", "-A")
    text = _refused(_hook(repo, render_env), "secretGenerator lit has literals",
                    "secretGenerator env reads plain.env, which is not SOPS-encrypted",
                    "secretGenerator files reads ../shared/key.pem", "sops encrypt --in-place shared/key.pem")
    assert "enc.env" not in text


def test_checks_the_staged_content(repo: Path, render_env: dict[str, str]) -> None:
    write(repo / "secret.yaml", SECRET)
    _git(repo, "add", "-A")
    write(repo / "secret.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")  # not staged
    _refused(_hook(repo, render_env), "secret.yaml: plaintext Secret s")


def test_pre_commit_framework_mode_checks_named_files(repo: Path, render_env: dict[str, str]) -> None:
    write(repo / "a" / "secret.yaml", SECRET)
    write(repo / "b" / "ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert _hook(repo, render_env, "b/ok.yaml").returncode == 0
    _refused(_hook(repo, render_env, "a/secret.yaml", "b/ok.yaml"), "a/secret.yaml")


def test_installed_hook_blocks_the_commit(repo: Path, sops_bin: Path, age_identity: Age,
                                          render_env: dict[str, str]) -> None:
    out = run_cli(["hook", "install"], env=render_env, cwd=repo)
    assert out.returncode == 0, out.stderr.decode()
    assert run_cli(["hook", "install"], env=render_env, cwd=repo).returncode == 3  # no silent overwrite
    write(repo / "secret.yaml", SECRET)
    _git(repo, "add", "-A")
    commit = subprocess.run(["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "x"],
                            cwd=repo, capture_output=True, env=render_env, check=False)
    assert commit.returncode != 0 and b"plaintext Secret s" in commit.stderr
    assert _git(repo, "rev-parse", "HEAD").returncode != 0  # nothing was committed
    sops_encrypt(sops_bin, age_identity.recipient, repo / "secret.yaml", repo / "secret.yaml.enc", regex=SECRET_REGEX)
    (repo / "secret.yaml.enc").rename(repo / "secret.yaml")
    _git(repo, "add", "-A")
    commit = subprocess.run(["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "x"],
                            cwd=repo, capture_output=True, env=render_env, check=False)
    assert commit.returncode == 0, commit.stderr.decode()


def test_outside_a_repository(tmp_path: Path, render_env: dict[str, str]) -> None:
    out = run_cli(["hook", "pre-commit"], env={**render_env, "GIT_CEILING_DIRECTORIES": str(tmp_path)}, cwd=tmp_path)
    assert out.returncode == 3 and b"git rev-parse failed" in out.stderr


def test_pre_commit_hooks_fields() -> None:
    from ruamel.yaml import YAML

    hooks = YAML(typ="safe", pure=True).load((Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert hook["id"] == "secrets-kit-no-plaintext"
    assert hook["entry"] == "secrets-kit hook pre-commit" and hook["language"] == "python"
    assert hook["pass_filenames"] is True


def test_example_repository_is_clean() -> None:
    """examples/gitops holds no plaintext Secret; only the clearly-fake inputs under plaintext/ are flagged."""
    from secrets_kit.guard import checks, git

    root = Path(__file__).resolve().parents[2]
    paths = [p.relative_to(root).as_posix() for p in (root / "examples").rglob("*") if p.is_file()]
    findings = checks.check_files(paths, git.worktree_reader(root))
    assert findings and all(f.path.startswith("examples/plaintext/") for f in findings)


def test_placeholder_only_secret_passes(repo: Path, render_env: dict[str, str]) -> None:
    import base64

    encoded = base64.b64encode(b"<path:kv/app#token>").decode()
    write(repo / "s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
                           f"stringData: {{a: '<key>', b: '<path:kv/app#x#2 | base64encode>'}}\ndata: {{c: {encoded}}}\n")
    write(repo / "mixed.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: m}\n"
                               f"stringData: {{a: '<key>', b: {VALUE}}}\n")
    _git(repo, "add", "-A")
    text = _refused(_hook(repo, render_env), "mixed.yaml: plaintext Secret m")
    assert "s.yaml" not in text.replace("mixed.yaml", "")
