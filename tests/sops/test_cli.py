"""The `secrets-kit sops` drop-in: subcommands, legacy flags, outputs, minimal diffs."""

from __future__ import annotations

import difflib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SECRET = "fake-secret-value-17"
PLAIN = f"""\
# settings for the demo (fake values)
db:
  user: demo
  password: {SECRET}   # rotate me
  port: 5432
flags: [a, b]
token_unencrypted: visible
"""


@pytest.fixture
def enc_file(age_id, ours, isolated_env: Path) -> Path:
    plain = isolated_env / "secrets.yaml"
    plain.write_text(PLAIN)
    result = ours("encrypt", "--in-place", "--age", age_id.recipient, str(plain))
    assert result.returncode == 0, result.err
    return plain


def _changed_lines(before: str, after: str) -> list[str]:
    """Changed lines, without `lastmodified` (it changes only when the clock's second does)."""
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---")) and "lastmodified:" not in line]


def test_encrypt_keeps_layout_and_round_trips(enc_file: Path, ours) -> None:
    text = enc_file.read_text()
    assert SECRET not in text
    assert "flags: [" in text  # flow style kept
    assert "\n  user: ENC[" in text  # two-space indent kept
    assert "#ENC[AES256_GCM" in text  # comments encrypted
    out = ours("decrypt", str(enc_file))
    assert out.returncode == 0, out.err
    assert out.out == PLAIN


def test_decrypt_output_and_in_place(enc_file: Path, ours, isolated_env: Path) -> None:
    target = isolated_env / "out.yaml"
    assert ours("decrypt", "--output", str(target), str(enc_file)).returncode == 0
    assert target.read_text() == PLAIN
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # plaintext is private
    assert ours("-d", "-i", str(enc_file)).returncode == 0
    assert enc_file.read_text() == PLAIN


def test_output_types_and_extract(enc_file: Path, ours) -> None:
    as_json = ours("decrypt", "--output-type", "json", str(enc_file))
    assert json.loads(as_json.stdout)["db"]["password"] == SECRET
    as_env = ours("decrypt", "--extract", '["db"]', "--output-type", "dotenv", str(enc_file))
    # The inline comment comes along, as a comment line (sops does the same).
    assert as_env.out == f"user=demo\n# rotate me\npassword={SECRET}\nport=5432\n"
    value = ours("decrypt", "--extract", '["db"]["password"]', str(enc_file))
    assert value.stdout == SECRET.encode()  # a string prints raw, no newline
    number = ours("decrypt", "--extract", '["db"]["port"]', str(enc_file))
    assert number.out == "5432\n"
    item = ours("decrypt", "--extract", '["flags"][1]', str(enc_file))
    assert item.out == "b"


def test_stdin_with_filename_override(age_id, ours) -> None:
    enc = ours("encrypt", "--age", age_id.recipient, "--filename-override", "x.json", input=b'{"a": "fake-1"}')
    assert enc.returncode == 0, enc.err
    assert json.loads(enc.stdout)["a"].startswith("ENC[")
    dec = ours("decrypt", "--input-type", "json", "--output-type", "json", input=enc.stdout)
    assert json.loads(dec.stdout) == {"a": "fake-1"}
    # Like sops, without a name or --output-type the output store is binary.
    assert ours("decrypt", "--input-type", "json", input=enc.stdout).returncode == 4
    dec = ours("decrypt", "/dev/stdin", "--input-type", "json", "--output-type", "json", input=enc.stdout)
    assert json.loads(dec.stdout) == {"a": "fake-1"}


def test_legacy_flags(age_id, ours, isolated_env: Path) -> None:
    plain = isolated_env / "legacy.json"
    plain.write_text('{"a": "fake-2", "b": 1}')
    assert ours("-e", "-i", "--age", age_id.recipient, str(plain)).returncode == 0
    assert "ENC[" in plain.read_text()
    dec = ours("--decrypt", "--input-type", "json", "--output-type", "yaml", str(plain))
    assert yaml.safe_load(dec.stdout) == {"a": "fake-2", "b": 1}
    assert ours("--set", '["a"] "fake-3"', str(plain)).returncode == 0
    assert json.loads(ours("-d", str(plain)).stdout)["a"] == "fake-3"
    rotated = ours("-r", str(plain))
    assert rotated.returncode == 0 and "ENC[" in rotated.out
    assert ours("-d", str(plain), env={"SOPS_AGE_RECIPIENTS": age_id.recipient}).returncode == 0


def test_set_changes_only_that_value(enc_file: Path, ours) -> None:
    before = enc_file.read_text()
    result = ours("set", str(enc_file), '["db"]["user"]', '"other"')
    assert result.returncode == 0, result.err
    changed = _changed_lines(before, enc_file.read_text())
    # The value and the mac: 2 lines out, 2 lines in.
    assert len(changed) == 4, changed
    assert any(line.startswith("+  user: ENC[") for line in changed)
    assert yaml.safe_load(ours("decrypt", str(enc_file)).stdout)["db"]["user"] == "other"


def test_set_idempotent_and_value_sources(enc_file: Path, ours, isolated_env: Path) -> None:
    before = enc_file.read_bytes()
    assert ours("set", "--idempotent", str(enc_file), '["db"]["user"]', '"demo"').returncode == 0
    assert enc_file.read_bytes() == before  # nothing changed, nothing written
    value_file = isolated_env / "value.json"
    value_file.write_text('{"nested": [1, 2]}')
    assert ours("set", "--value-file", str(enc_file), '["new"]', str(value_file)).returncode == 0
    assert ours("set", "--value-stdin", str(enc_file), '["db"]["password"]', input=b'"fake-4"').returncode == 0
    data = yaml.safe_load(ours("decrypt", str(enc_file)).stdout)
    assert data["new"] == {"nested": [1, 2]}
    assert data["db"]["password"] == "fake-4"


def test_unset_and_new_keys_keep_the_rest_of_the_file(enc_file: Path, ours, real_sops) -> None:
    before = enc_file.read_text()
    assert ours("unset", str(enc_file), '["db"]["port"]').returncode == 0
    changed = _changed_lines(before, enc_file.read_text())
    assert len(changed) == 3 and changed[0].startswith("-  port: ENC["), changed  # the item, and the mac
    before = enc_file.read_text()
    assert ours("set", str(enc_file), '["db"]["host"]', '"db.example.invalid"').returncode == 0
    assert ours("set", str(enc_file), '["extra"]', '{"a": [1, "x"]}').returncode == 0
    changed = _changed_lines(before, enc_file.read_text())
    added = [line for line in changed if line.startswith("+") and "lastmodified" not in line and "mac:" not in line]
    assert added[0].startswith("+  host: ENC[") and added[1] == "+extra:", changed
    assert not [line for line in changed if line.startswith("-") and "lastmodified" not in line
                and "mac:" not in line]
    assert "flags: [" in enc_file.read_text()  # the flow list is untouched
    theirs = real_sops("decrypt", str(enc_file))
    assert theirs.returncode == 0, theirs.err
    data = yaml.safe_load(theirs.stdout)
    assert data["db"]["host"] == "db.example.invalid" and data["extra"] == {"a": [1, "x"]}
    assert "port" not in data["db"]


def test_unset(enc_file: Path, ours) -> None:
    assert ours("unset", str(enc_file), '["db"]["port"]').returncode == 0
    data = yaml.safe_load(ours("decrypt", str(enc_file)).stdout)
    assert "port" not in data["db"]
    assert ours("unset", "--idempotent", str(enc_file), '["db"]["port"]').returncode == 0
    assert ours("unset", str(enc_file), '["db"]["port"]').returncode == 1


@pytest.fixture
def editor(isolated_env: Path) -> Path:
    """An 'editor' that replaces `demo` by `edited` in the file it is given."""
    script = isolated_env / "editor.py"
    script.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "assert oct(p.stat().st_mode & 0o777) == '0o600'\n"
                      "p.write_text(p.read_text().replace('user: demo', 'user: edited'))\n")
    return script


def test_edit_reencrypts_only_what_changed(enc_file: Path, ours, editor: Path) -> None:
    before = enc_file.read_text()
    result = ours("edit", str(enc_file), env={"EDITOR": f"{sys.executable} {editor}"})
    assert result.returncode == 0, result.err
    after = enc_file.read_text()
    changed = _changed_lines(before, after)
    assert len(changed) == 4, changed
    assert yaml.safe_load(ours("decrypt", str(enc_file)).stdout)["db"]["user"] == "edited"


def test_edit_new_file(age_id, ours, editor: Path, isolated_env: Path) -> None:
    target = isolated_env / "new.yaml"
    result = ours("edit", "--age", age_id.recipient, str(target), env={"SOPS_EDITOR": f"{sys.executable} {editor}"})
    # The example file has no `user: demo`, so the editor changes nothing: sops's exit 200.
    assert result.returncode == 200
    assert not target.exists()


def test_edit_readable_by_sops(enc_file: Path, ours, editor: Path, real_sops) -> None:
    assert ours("edit", str(enc_file), env={"EDITOR": f"{sys.executable} {editor}"}).returncode == 0
    theirs = real_sops("decrypt", str(enc_file))
    assert theirs.returncode == 0, theirs.err
    assert yaml.safe_load(theirs.stdout)["db"]["user"] == "edited"


def test_rotate_changes_data_key(enc_file: Path, ours, real_sops, isolated_env: Path, tmp_path: Path) -> None:
    from .conftest import make_age_identity

    other = make_age_identity(tmp_path, "other.txt")
    before = enc_file.read_text()
    result = ours("rotate", "-i", "--add-age", other.recipient, str(enc_file))
    assert result.returncode == 0, result.err
    after = enc_file.read_text()
    assert other.recipient in after
    old_values = {line for line in before.splitlines() if "ENC[" in line}
    assert not old_values & {line for line in after.splitlines() if "ENC[" in line}
    theirs = real_sops("decrypt", str(enc_file), env={"SOPS_AGE_KEY_FILE": str(other.keys_file)})
    assert theirs.returncode == 0 and yaml.safe_load(theirs.stdout) == yaml.safe_load(PLAIN)
    result = ours("rotate", "-i", "--rm-age", other.recipient, str(enc_file))
    assert result.returncode == 0, result.err
    assert other.recipient not in enc_file.read_text()


def _tree(root: Path, ours, recipient: str, count: int) -> list[Path]:
    files = []
    for i in range(count):
        sub = root / f"team{i % 2}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"s{i}.yaml"
        path.write_text(f"key{i}: fake-{i}\n")
        assert ours("encrypt", "-i", "--age", recipient, str(path)).returncode == 0
        files.append(path)
    (root / "README.md").write_text("not a sops file\n")
    return files


def test_updatekeys_directory_tree(age_id, ours, real_sops, isolated_env: Path, tmp_path: Path) -> None:
    from .conftest import make_age_identity

    second = make_age_identity(tmp_path, "second.txt")
    files = _tree(isolated_env / "secrets", ours, age_id.recipient, 4)
    values_before = {p: [line for line in p.read_text().splitlines() if line.startswith("key")] for p in files}
    (isolated_env / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/\n    age: {age_id.recipient},{second.recipient}\n")
    result = ours("updatekeys", "-y", "--progress", "secrets")
    assert result.returncode == 0, result.err
    for path in files:
        text = path.read_text()
        assert second.recipient in text
        # Same data key: the values are untouched.
        assert [line for line in text.splitlines() if line.startswith("key")] == values_before[path]
        assert real_sops("decrypt", str(path), env={"SOPS_AGE_KEY_FILE": str(second.keys_file)}).returncode == 0
    again = ours("updatekeys", "-y", "secrets")
    assert again.returncode == 0


def test_updatekeys_single_file_like_sops(age_id, ours, isolated_env: Path, tmp_path: Path) -> None:
    from .conftest import make_age_identity

    second = make_age_identity(tmp_path, "second.txt")
    [path] = _tree(isolated_env, ours, age_id.recipient, 1)
    (isolated_env / ".sops.yaml").write_text(f"creation_rules:\n  - age: {second.recipient}\n")
    result = ours("updatekeys", "-y", str(path))
    assert result.returncode == 0, result.err
    assert "+++ " + second.recipient in result.out
    assert "--- " + age_id.recipient in result.out
    assert age_id.recipient not in path.read_text()


def test_rotate_directory(age_id, ours, real_sops, isolated_env: Path) -> None:
    files = _tree(isolated_env / "tree", ours, age_id.recipient, 3)
    before = {p: p.read_text() for p in files}
    result = ours("rotate", str(isolated_env / "tree"))
    assert result.returncode == 0, result.err
    for i, path in enumerate(files):
        assert path.read_text() != before[path]
        theirs = real_sops("decrypt", str(path))
        assert theirs.returncode == 0 and yaml.safe_load(theirs.stdout) == {f"key{i}": f"fake-{i}"}


def test_rotate_many_reports_an_unreadable_file_and_goes_on(age_id, ours, isolated_env: Path) -> None:
    first, second = _tree(isolated_env / "tree", ours, age_id.recipient, 2)
    before = {p: p.read_text() for p in (first, second)}
    missing = isolated_env / "tree" / "missing.yaml"
    result = ours("rotate", str(first), str(missing), str(second))
    assert result.returncode == 1
    assert f"{missing}: " in result.err and "internal error" not in result.err
    for path in (first, second):
        assert path.read_text() != before[path]


def test_filestatus(enc_file: Path, ours, isolated_env: Path) -> None:
    assert ours("filestatus", str(enc_file)).out == '{"encrypted":true}\n'
    plain = isolated_env / "p.yaml"
    plain.write_text("a: 1\n")
    assert ours("filestatus", str(plain)).out == '{"encrypted":false}\n'


def test_exec_env_and_exec_file(age_id, ours, isolated_env: Path) -> None:
    path = isolated_env / "env.yaml"
    path.write_text(f"API_TOKEN: {SECRET}\nPORT: 8080\n")
    assert ours("encrypt", "-i", "--age", age_id.recipient, str(path)).returncode == 0
    env_run = ours("exec-env", str(path), 'test "$API_TOKEN" = "' + SECRET + '" && echo "port=$PORT"')
    assert env_run.returncode == 0, env_run.err
    assert env_run.out == "port=8080\n"
    pristine = ours("exec-env", "--pristine", str(path), 'echo "home=${HOME:-unset}"')
    assert pristine.out == "home=unset\n"
    for extra in ([], ["--no-fifo"]):
        file_run = ours("exec-file", *extra, "--output-type", "json", str(path), "cat {}")
        assert file_run.returncode == 0, file_run.err
        assert json.loads(file_run.stdout) == {"API_TOKEN": SECRET, "PORT": 8080}


def test_groups_add_and_delete(age_id, ours, real_sops, isolated_env: Path, tmp_path: Path) -> None:
    from .conftest import make_age_identity

    second = make_age_identity(tmp_path, "second.txt")
    path = isolated_env / "g.yaml"
    path.write_text("a: fake-9\n")
    assert ours("encrypt", "-i", "--age", age_id.recipient, str(path)).returncode == 0
    added = ours("groups", "add", "--file", str(path), "-i", "--age", second.recipient,
                 "--shamir-secret-sharing-threshold", "2")
    assert added.returncode == 0, added.err
    doc = yaml.safe_load(path.read_text())
    assert len(doc["sops"]["key_groups"]) == 2 and doc["sops"]["shamir_threshold"] == 2
    both = {"SOPS_AGE_KEY": f"{age_id.secret}\n{second_secret(second)}"}
    assert real_sops("decrypt", str(path), env=both).returncode == 0
    assert real_sops("decrypt", str(path)).returncode == 128  # one of two groups is not enough
    deleted = ours("groups", "delete", "--file", str(path), "-i", "--shamir-secret-sharing-threshold", "1", "1",
                   env=both)
    assert deleted.returncode == 0, deleted.err
    assert real_sops("decrypt", str(path)).returncode == 0


def second_secret(ident) -> str:
    return ident.secret


def test_config_creation_rules(age_id, ours, isolated_env: Path, tmp_path: Path) -> None:
    from .conftest import make_age_identity

    other = make_age_identity(tmp_path, "other.txt")
    (isolated_env / ".sops.yaml").write_text(
        "creation_rules:\n"
        f"  - path_regex: prod/.*\\.yaml$\n    age: {other.recipient}\n    encrypted_regex: ^(password|token)$\n"
        f"  - age: >-\n      {age_id.recipient},\n      {other.recipient}\n")
    (isolated_env / "prod").mkdir()
    prod = isolated_env / "prod" / "app.yaml"
    prod.write_text("password: fake-p\nuser: clear\n")
    dev = isolated_env / "dev.yaml"
    dev.write_text("password: fake-d\n")
    sub = isolated_env / "prod"
    # The config is found from the working directory upwards, not from the file.
    enc = ours("encrypt", "app.yaml", cwd=sub)
    assert enc.returncode == 0, enc.err
    doc = yaml.safe_load(enc.stdout)
    assert doc["user"] == "clear" and doc["password"].startswith("ENC[")
    assert doc["sops"]["encrypted_regex"] == "^(password|token)$"
    assert [a["recipient"] for a in doc["sops"]["age"]] == [other.recipient]
    enc = ours("encrypt", str(dev))
    assert [a["recipient"] for a in yaml.safe_load(enc.stdout)["sops"]["age"]] == [age_id.recipient,
                                                                                    other.recipient]
    # --config points elsewhere; flags win over the config.
    alt = tmp_path / "alt.yaml"
    alt.write_text(f"creation_rules:\n  - age: {other.recipient}\n")
    enc = ours("--config", str(alt), "encrypt", str(dev))
    assert [a["recipient"] for a in yaml.safe_load(enc.stdout)["sops"]["age"]] == [other.recipient]
    enc = ours("encrypt", "--age", age_id.recipient, str(dev))
    assert [a["recipient"] for a in yaml.safe_load(enc.stdout)["sops"]["age"]] == [age_id.recipient]
    # --filename-override changes the path that rules match.
    enc = ours("encrypt", "--filename-override", "prod/x.yaml", str(dev))
    assert yaml.safe_load(enc.stdout)["sops"]["encrypted_regex"] == "^(password|token)$"


def test_stores_indent_from_config(age_id, ours, isolated_env: Path) -> None:
    (isolated_env / ".sops.yaml").write_text(f"stores:\n  json:\n    indent: 2\ncreation_rules:\n"
                                             f"  - age: {age_id.recipient}\n")
    path = isolated_env / "i.json"
    path.write_text('{"a": {"b": "fake"}}')
    enc = ours("encrypt", str(path))
    assert enc.out.startswith('{\n  "a": {\n    "b": "ENC[')


def test_missing_identity_error_names_what_was_tried(enc_file: Path, ours, isolated_env: Path) -> None:
    result = ours("decrypt", str(enc_file), env={"SOPS_AGE_KEY_FILE": str(isolated_env / "nope.txt")})
    assert result.returncode == 128
    assert "Group 0: FAILED" in result.err
    assert "SOPS_AGE_KEY_FILE" in result.err
    assert SECRET not in result.err


def test_help_and_version(ours) -> None:
    general = ours("--help")
    assert general.returncode == 0 and "Commands:" in general.out and "encrypt [FILE]" in general.out
    assert ours("--version").out.startswith("sops 3.13.3")


# Each subcommand's --help is its own (as `sops COMMAND --help`): its usage line and a flag only it takes.
_COMMAND_HELP = [("encrypt", "--filename-override"), ("decrypt", "--extract"), ("edit", "--show-master-keys"),
                 ("set", "--value-stdin"), ("unset", "--idempotent"), ("rotate", "--add-age"),
                 ("updatekeys", "--yes"), ("exec-env", "--pristine"), ("exec-file", "--no-fifo"),
                 ("filestatus", "--input-type"), ("groups", "--file")]


@pytest.mark.parametrize(("command", "flag"), _COMMAND_HELP, ids=[c for c, _ in _COMMAND_HELP])
def test_subcommand_help_is_that_commands(command: str, flag: str, ours) -> None:
    for argv in ([command, "--help"], [command, "-h"], ["help", command]):
        result = ours(*argv)
        assert result.returncode == 0, result.err
        assert result.out.startswith(f"Usage: secrets-kit sops {command} "), argv
        assert flag in result.out and "Commands:" not in result.out, argv


def test_both_entry_points_run_the_drop_in(enc_file: Path) -> None:
    """`secrets-kit sops` and the standalone `secrets-kit-sops` (for HELM_SECRETS_SOPS_PATH) decrypt alike."""

    bindir = Path(sys.executable).parent
    outputs = []
    for argv in ([str(bindir / "secrets-kit"), "sops"], [str(bindir / "secrets-kit-sops")],
                 [sys.executable, "-m", "secrets_kit_cli.dropins.sops"]):
        done = subprocess.run([*argv, "decrypt", str(enc_file)], capture_output=True, check=False)
        assert done.returncode == 0, (argv, done.stderr)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == outputs[2] and SECRET.encode() in outputs[0]


def test_file_mode_kept_on_in_place(enc_file: Path, ours) -> None:
    os.chmod(enc_file, 0o640)
    assert ours("set", str(enc_file), '["db"]["user"]', '"x"').returncode == 0
    assert stat.S_IMODE(enc_file.stat().st_mode) == 0o640


def test_encrypt_over_an_existing_output_keeps_unchanged_ciphertexts(age_id, ours, real_sops, isolated_env: Path,
                                                                      tmp_path: Path) -> None:
    from .conftest import make_age_identity

    plain = isolated_env / "plain.yaml"
    plain.write_text(PLAIN)
    target = isolated_env / "out.yaml"
    assert ours("encrypt", "--age", age_id.recipient, "--output", str(target), str(plain)).returncode == 0
    first = target.read_text()
    plain.write_text(PLAIN.replace("user: demo", "user: changed"))
    assert ours("encrypt", "--age", age_id.recipient, "--output", str(target), str(plain)).returncode == 0
    changed = _changed_lines(first, target.read_text())
    assert len(changed) == 4, changed  # the changed value and the mac
    assert real_sops("decrypt", str(target)).returncode == 0
    # Other recipients: a new data key (a removed recipient must not keep access).
    other = make_age_identity(tmp_path, "o.txt")
    assert ours("encrypt", "--age", other.recipient, "--output", str(target), str(plain)).returncode == 0
    assert len(_changed_lines(first, target.read_text())) > 10


# The import budget of the hot path (`secrets-kit sops decrypt`, what helm-secrets runs per values file):
# what may load, so a stray import (click, a cloud SDK, tempfile's chain) shows up as a failure here.
# No PyYAML either: the YAML store reads the block YAML that sops writes itself (fastparse.py; PyYAML's
# import is ~12 ms), as long as no .sops.yaml is found (reading one loads PyYAML).
_THIRD_PARTY_ALLOWED = {"secrets_kit", "secrets_kit_cli", "cryptography", "_cffi_backend", "_openssl", "pyrage",
                        "cython_runtime"}
# `dataclasses` and what it imports (inspect, ast, dis, tokenize: ~6 ms): the records on this path are plain classes.
_STDLIB_DENIED = {"tempfile", "shutil", "subprocess", "bz2", "lzma", "zipfile", "tarfile", "logging", "threading",
                  "socket", "ssl", "http", "email", "asyncio", "argparse", "uuid", "random", "decimal", "textwrap",
                  "hashlib",  # the MAC's SHA-512 comes from cryptography: hashlib loads a second OpenSSL
                  "yaml", "_yaml", "dataclasses", "inspect", "ast", "dis", "tokenize", "copy"}
_OURS_DENIED = ("secrets_kit.render", "secrets_kit.sealed", "secrets_kit.providers", "secrets_kit.k8s",
                "secrets_kit.quickstart", "secrets_kit.clients", "secrets_kit_cli.commands",
                "secrets_kit_cli.dropins.sops.edit", "secrets_kit_cli.dropins.sops.keycommands")
_KEYSOURCES_ALLOWED = {"secrets_kit.sops.keysources", "secrets_kit.sops.keysources.base",
                       "secrets_kit.sops.keysources.age"}


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_sops_decrypt_import_budget(fmt: str, age_id, ours, isolated_env: Path) -> None:
    plain = isolated_env / f"plain.{fmt}"
    plain.write_text(f"a: {SECRET}\n" if fmt == "yaml" else f'{{"a": "{SECRET}"}}\n')
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    target = isolated_env / f"enc.{fmt}"
    target.write_bytes(enc.stdout)
    report = isolated_env / "modules.json"
    code = (
        "import json, os, sys\n"
        "start = set(sys.modules)\n"
        f"sys.argv = ['secrets-kit', 'sops', 'decrypt', {str(target)!r}]\n"
        "from secrets_kit_cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"open({str(report)!r}, 'w').write(json.dumps(sorted(set(sys.modules) - start)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert SECRET.encode() in done.stdout
    loaded = json.loads(report.read_text())
    tops = {name.split(".")[0] for name in loaded}
    third_party = {t for t in tops if t not in sys.stdlib_module_names and not t.startswith("_cython_")}
    assert third_party <= _THIRD_PARTY_ALLOWED, sorted(third_party - _THIRD_PARTY_ALLOWED)
    assert not tops & _STDLIB_DENIED, sorted(tops & _STDLIB_DENIED)
    assert not [m for m in loaded if m.startswith(_OURS_DENIED)]
    keysources = {m for m in loaded if m.startswith("secrets_kit.sops.keysources")}
    assert keysources <= _KEYSOURCES_ALLOWED, sorted(keysources - _KEYSOURCES_ALLOWED)
    if fmt == "json":
        assert "secrets_kit.sops.stores.yaml_store" not in loaded
    else:
        assert "secrets_kit.sops.stores.yaml_store.fastparse" in loaded  # (so the denials above are of this path)


def test_sops_yaml_decrypt_compiles_no_pattern_it_does_not_use(age_id, ours, isolated_env: Path) -> None:
    """The YAML store's scalar patterns over all of Unicode take milliseconds each to compile: plain
    values need none of those, so a decrypt of plain values compiles none of them (secrets_kit/lazyre.py)."""
    plain = isolated_env / "plain.yaml"
    plain.write_text(f"a: {SECRET}\nb: plain-value\n")
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    target = isolated_env / "enc.yaml"
    target.write_bytes(enc.stdout)
    code = (
        f"import sys\nsys.argv = ['secrets-kit', 'sops', 'decrypt', {str(target)!r}]\n"
        "from secrets_kit_cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "from secrets_kit.sops.stores.yaml_store import scalars\nfrom secrets_kit.sops import gofmt\n"
        "lazy = {n: getattr(m, n) for m in (scalars, gofmt) for n in dir(m) if type(getattr(m, n)).__name__ == 'LazyRe'}\n"
        "import json\nprint(json.dumps([len(lazy), [n for n, rx in lazy.items() if rx._compiled is not None]]),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert SECRET in done.stdout
    count, compiled = json.loads(done.stderr.strip().splitlines()[-1])
    assert count >= 10, done.stderr
    # the costly ones (milliseconds each): escaping and printability over all of Unicode, YAML 1.1's words
    assert not {"_ESCAPED", "_NON_PRINTABLE", "_YAML11_SPECIAL", "_YAML_TS"} & set(compiled), compiled


def test_standalone_entry_ends_quickly_without_losing_output_or_codes(age_id, ours, isolated_env: Path) -> None:
    """`secrets-kit-sops` ends through cli/leave.py (no interpreter teardown): a 2,000-value decrypt
    arrives whole through a pipe and a failure keeps sops's exit code."""
    plain = isolated_env / "many.yaml"
    plain.write_text("".join(f"k{i}: {SECRET}-{i}\n" for i in range(2000)))
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    target = isolated_env / "many.enc.yaml"
    target.write_bytes(enc.stdout)
    entry = [sys.executable, "-c", "import sys; sys.argv[0] = 'secrets-kit-sops'\n"
             "from secrets_kit_cli.dropins.sops.main import console\nconsole()"]
    done = subprocess.run([*entry, "decrypt", str(target)], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == plain.read_bytes()
    missing = subprocess.run([*entry, "decrypt", str(isolated_env / "absent.yaml")], capture_output=True,
                             check=False)
    assert missing.returncode == 100 and missing.stderr, missing.stderr  # sops's CouldNotReadInputFile
