"""`secrets-kit hook pre-commit` and `.pre-commit-hooks.yaml`, on temporary Git repositories."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
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
                    "fix: secrets-kit sops encrypt --age age1", "--encrypted-regex '^(data|stringData)$' --in-place "
                    "app/secret.yaml && git add app/secret.yaml")
    assert "or seal it: secrets-kit seal --keys-dir " in text
    assert "then: git rm -q --cached app/secret.yaml && rm app/secret.yaml" in text


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
                    "fix: secrets-kit sops encrypt --in-place secrets/plain.env && git add secrets/plain.env")
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
                    "secretGenerator files reads ../shared/key.pem",
                    "--in-place shared/key.pem && git add shared/key.pem", "to do: move them to an env file")
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
    env = {**render_env, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    out = run_cli(["hook", "pre-commit"], env=env, cwd=tmp_path)
    assert out.returncode == 3 and b"not inside a Git repository" in out.stderr and b"pass the files" in out.stderr
    # Explicit files need no repository: the file is checked, the fix has no git commands.
    write(tmp_path / "secret.yaml", SECRET)
    write(tmp_path / "ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert run_cli(["hook", "pre-commit", "ok.yaml"], env=env, cwd=tmp_path).returncode == 0
    text = _refused(run_cli(["hook", "pre-commit", "secret.yaml"], env=env, cwd=tmp_path), "secret.yaml: plaintext")
    assert "git " not in text and "then: rm secret.yaml" in text


def test_a_missing_file_is_an_error(repo: Path, render_env: dict[str, str]) -> None:
    out = _hook(repo, render_env, "nope.yaml")
    assert out.returncode == 3 and b"nope.yaml: no such file" in out.stderr


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


# ------------------------------------------------------------------ the printed fixes, pasted


_B64_VALUE = base64.b64encode(VALUE.encode()).decode()


def _user_env(tmp_path: Path) -> dict[str, str]:
    """A new user's shell: an empty home (no age identity, no sealing keys), secrets-kit on PATH."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARGOCD_", "PARAM_", "SOPS_", "SECRETS_KIT_", "KUBE_", "XDG_", "GIT_"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")
    return env


def _printed(out: subprocess.CompletedProcess[bytes], *labels: str) -> list[str]:
    """The commands the hook printed under these labels, in order (each is pasted into sh)."""
    lines = []
    for line in out.stderr.decode().splitlines():
        label, _, command = line.strip().partition(": ")
        if label in labels:
            lines.append(command)
    return lines


def _paste(commands: list[str], cwd: Path, env: dict[str, str]) -> None:
    for command in commands:
        done = subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, f"{command}\n{done.stderr.decode()}"
        assert VALUE not in (done.stdout + done.stderr).decode()


def _commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, env=env, capture_output=True, check=False)


def test_pasted_sops_fix_works_with_nothing_set_up(repo: Path, tmp_path: Path, sops_bin: Path) -> None:
    """No identity, no .sops.yaml: the one-time setup comes first, then the fix; real sops reads the result."""
    env = _user_env(tmp_path)
    write(repo / "app" / "secret.yaml", SECRET)
    _git(repo, "add", "-A")
    out = run_cli(["hook", "pre-commit"], env=env, cwd=repo)
    _refused(out, "one-time setup: secrets-kit keys age")
    _paste(_printed(out, "one-time setup", "fix")[:1] + _printed(out, "fix"), repo, env)
    assert run_cli(["hook", "pre-commit"], env=env, cwd=repo).returncode == 0
    assert _commit(repo, env).returncode == 0
    stored = _git(repo, "show", "HEAD:app/secret.yaml").stdout.decode()
    assert VALUE not in stored and "name: s" in stored  # metadata stays readable
    identity = Path(env["HOME"]) / ".config" / "sops" / "age" / "keys.txt"
    assert identity.stat().st_mode & 0o777 == 0o600
    plain = subprocess.run([str(sops_bin), "decrypt", "app/secret.yaml"], cwd=repo, capture_output=True,
                           env={**env, "SOPS_AGE_KEY_FILE": str(identity)}, check=False)
    assert plain.returncode == 0 and VALUE in plain.stdout.decode()


def test_pasted_seal_fix_works_and_removes_the_plaintext(repo: Path, tmp_path: Path) -> None:
    env = _user_env(tmp_path)
    write(repo / "app" / "secret.yaml", SECRET)
    _git(repo, "add", "-A")
    out = run_cli(["hook", "pre-commit"], env=env, cwd=repo)
    _refused(out, "one-time setup: secrets-kit keys create")
    setup = [c for c in _printed(out, "one-time setup") if c.startswith("secrets-kit keys create")]
    _paste(setup + _printed(out, "or seal it", "then"), repo, env)
    assert not (Path(env["HOME"]) / ".config" / "sops").exists()  # only what the pasted lines asked for
    assert not (repo / "app" / "secret.yaml").exists()
    assert run_cli(["hook", "pre-commit"], env=env, cwd=repo).returncode == 0
    assert _commit(repo, env).returncode == 0
    files = _git(repo, "ls-files").stdout.decode().split()
    assert files == ["app/secret.sealed.yaml"]
    unsealed = run_cli(["unseal", "--keys-dir", str(Path(env["HOME"]) / ".config" / "secrets-kit" / "sealed-keys"),
                        "app/secret.sealed.yaml"], env=env, cwd=repo)
    assert unsealed.returncode == 0 and _B64_VALUE in unsealed.stdout.decode()


def test_fixes_name_the_repositorys_own_settings(repo: Path, tmp_path: Path, age_identity: Age) -> None:
    """A repository set up as the quickstart's: .sops.yaml and a cluster registry in a subfolder."""
    from secrets_kit.sealed.keys import KeyFolder

    env = _user_env(tmp_path)
    gitops = repo / "gitops"
    write(gitops / ".sops.yaml", "creation_rules:\n  - path_regex: deploy/.*\\.sops\\.yaml$\n"
                                 f"    encrypted_regex: ^(data|stringData)$\n    age: {age_identity.recipient}\n")
    pair = KeyFolder(tmp_path / "cluster-keys").create(bits=2048)
    write(gitops / "clusters" / "certs" / "eu.pem", pair.cert.pem.decode())
    write(gitops / "clusters" / "clusters.yaml", "clusters:\n  - {name: eu, cert: certs/eu.pem}\n")
    write(gitops / "deploy" / "db.sops.yaml", SECRET)
    write(gitops / "deploy" / "token.yaml", SECRET.replace("name: s,", "name: t,"))
    _git(repo, "add", "-A")
    out = run_cli(["hook", "pre-commit"], env=env, cwd=repo)
    _refused(out)
    fixes = _printed(out, "fix")
    # db.sops.yaml: its .sops.yaml rule (found from here only with --config); token.yaml: the cluster registry.
    assert fixes == ["secrets-kit sops --config gitops/.sops.yaml encrypt --in-place gitops/deploy/db.sops.yaml"
                     " && git add gitops/deploy/db.sops.yaml",
                     "secrets-kit seal --clusters gitops/clusters/clusters.yaml --all-clusters "
                     "gitops/deploy/token.yaml && git add gitops/deploy/token.sealed.yaml"]
    then = _printed(out, "then")
    assert then[-1].startswith("git rm -q --cached gitops/deploy/token.yaml && rm gitops/deploy/token")
    _paste([*fixes, then[-1]], repo, {**env, "SOPS_AGE_KEY_FILE": str(age_identity.identity)})
    assert run_cli(["hook", "pre-commit"], env=env, cwd=repo).returncode == 0
    assert _commit(repo, env).returncode == 0
    unsealed = run_cli(["unseal", "--keys-dir", str(tmp_path / "cluster-keys"), "gitops/deploy/token.sealed.yaml"],
                       env=env, cwd=repo)
    assert unsealed.returncode == 0 and _B64_VALUE in unsealed.stdout.decode()


def test_installed_hook_runs_without_the_venv_on_path(repo: Path, tmp_path: Path) -> None:
    env = _user_env(tmp_path)
    assert run_cli(["hook", "install"], env=env, cwd=repo).returncode == 0
    bare = {**env, "PATH": "/usr/bin:/bin"}  # what a GUI Git client may give the hook
    write(repo / "secret.yaml", SECRET)
    _git(repo, "add", "-A")
    commit = _commit(repo, bare)
    assert commit.returncode == 1 and b"plaintext Secret s" in commit.stderr, commit.stderr.decode()
    # The interpreter it names is gone: the hook says what to do, and blocks the commit.
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(hook.read_text().replace(f"python={sys.executable}", f"python={tmp_path}/gone/python"))
    commit = _commit(repo, bare)
    assert commit.returncode == 1
    assert b"no longer exists and secrets-kit is not on PATH" in commit.stderr
    assert b"secrets-kit hook install --force" in commit.stderr
    assert _git(repo, "rev-parse", "HEAD").returncode != 0


def test_an_ignored_file_is_fixed_without_git_commands(repo: Path, tmp_path: Path) -> None:
    """Like the README's walk-through: an explicit file under a git-ignored folder (quickstart-out/)."""
    env = _user_env(tmp_path)
    write(repo / ".gitignore", "/out/\n")
    write(repo / "out" / "secret.yaml", SECRET)
    out = run_cli(["hook", "pre-commit", "out/secret.yaml"], env=env, cwd=repo)
    text = _refused(out, "out/secret.yaml: plaintext Secret s")
    assert "git add" not in text and "git rm" not in text
    _paste(_printed(out, "one-time setup")[:1] + _printed(out, "fix"), repo, env)
    assert run_cli(["hook", "pre-commit", "out/secret.yaml"], env=env, cwd=repo).returncode == 0


def test_a_sops_yaml_without_a_rule_for_the_file_does_not_break_the_fix(repo: Path, tmp_path: Path,
                                                                       age_identity: Age, sops_bin: Path) -> None:
    """sops (and the drop-in) refuse key flags when the .sops.yaml they find has no matching rule."""
    env = {**_user_env(tmp_path), "SOPS_AGE_KEY_FILE": str(age_identity.identity)}
    write(repo / ".sops.yaml", f"creation_rules:\n  - path_regex: ^only-this/\n    age: {age_identity.recipient}\n")
    write(repo / "app" / "secret.yaml", SECRET)
    _git(repo, "add", "-A")
    out = run_cli(["hook", "pre-commit"], env=env, cwd=repo)
    fix = _printed(out, "fix")
    assert fix == [f"secrets-kit sops --config /dev/null encrypt --age {age_identity.recipient} --encrypted-regex "
                   "'^(data|stringData)$' --in-place app/secret.yaml && git add app/secret.yaml"]
    _paste(fix, repo, env)
    assert run_cli(["hook", "pre-commit"], env=env, cwd=repo).returncode == 0
    plain = subprocess.run([str(sops_bin), "decrypt", "app/secret.yaml"], cwd=repo, env=env, capture_output=True,
                           check=False)
    assert plain.returncode == 0 and VALUE in plain.stdout.decode()
