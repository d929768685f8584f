"""Tamper matrix: ours refuses a changed sops file exactly when the real sops does.

For each format, a file encrypted by the real sops and one encrypted by ours (one age key),
plus sops-made files with other selection rules (encrypted_regex + mac_only_encrypted,
encrypted_comment_regex), go through every structured mutation of `tamper_mutations` (value types, bit flips, moved
values and comments, each metadata field changed, removed or written another way). Each
mutated file is decrypted by `sops -d`, by our library and by our drop-in (in process; a
few cases also as the `secrets-kit sops -d` command). Per case:
- accepted by ours ⇔ accepted by sops, and when both accept, the same output;
- when both refuse, ours raises a typed `SecretsKitError` subclass, the drop-in exits with
  sops's code (unless sops crashed: a Go panic has no code to match), and no message holds
  a secret.
The figures of the last run are printed (`-s`) and recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyrage
import pytest
import yaml
from secrets_kit_cli.dropins.sops import main as dropin

from secrets_kit.errors import SecretsKitError
from secrets_kit.sops.keysources.age import AgeKey
from secrets_kit.sops.ops import EncryptOptions, decrypt_bytes, encrypt_bytes
from secrets_kit.sops.stores import store_for

from .conftest import ours_cmd, run_cmd
from .tamper_mutations import EXTENSIONS, FORMATS, MARK, PLAIN, mutations


@dataclass
class Outcome:
    ok: bool
    out: bytes = b""
    code: int = 0
    message: str = ""
    error: BaseException | None = field(default=None, repr=False)


def _types(fmt: str) -> list[str]:
    return ["--input-type", fmt, "--output-type", fmt]


# Files whose metadata sets other selection rules, made by sops's legacy flags (the only ones
# that take --mac-only-encrypted and the comment regexes).
RULE_FLAGS = {
    "sops-regex-mac-only": ["--encrypted-regex", "^(password|token|numstr|tags|second)$", "--mac-only-encrypted"],
    "sops-comment-regex": ["--encrypted-comment-regex", "sk-mark-c[13]"],
}
# (format, encrypter): every format from both encrypters, and the rule variants of the text formats.
MATRIX = [(fmt, source) for fmt in FORMATS for source in ("sops", "ours")] + [
    ("yaml", "sops-regex-mac-only"), ("json", "sops-regex-mac-only"), ("ini", "sops-regex-mac-only"),
    ("yaml", "sops-comment-regex"),
]


def _encrypt(fmt: str, source: str, sops_bin: Path, recipient: str, work: Path) -> str:
    if source.startswith("sops"):
        plain = work / f"plain.{EXTENSIONS[fmt]}"
        plain.write_bytes(PLAIN[fmt])
        flags = ["-e", *RULE_FLAGS[source]] if source in RULE_FLAGS else ["encrypt"]
        done = run_cmd([str(sops_bin), *flags, "--age", recipient, *_types(fmt), str(plain)])
        assert done.returncode == 0, done.err
        return done.out
    store = store_for(fmt)
    opts = EncryptOptions(key_groups=[[AgeKey(recipient)]])
    return encrypt_bytes(PLAIN[fmt], store, store, opts).decode()


def _run_sops(sops_bin: Path, fmt: str, path: Path) -> Outcome:
    done = subprocess.run([str(sops_bin), "decrypt", *_types(fmt), str(path)], capture_output=True, timeout=60,
                          check=False)
    return Outcome(done.returncode == 0, done.stdout, done.returncode, done.stderr.decode("utf-8", "replace"))


def _run_library(fmt: str, data: bytes) -> Outcome:
    store = store_for(fmt)
    try:
        return Outcome(True, decrypt_bytes(data, store, store))
    except SecretsKitError as exc:
        return Outcome(False, code=exc.exit_code, message=str(exc), error=exc)
    except Exception as exc:  # an untyped error: recorded, and a failure of the case
        return Outcome(False, code=-1, message=f"untyped {type(exc).__name__}", error=exc)


class _Buffer(io.BytesIO):
    def close(self) -> None:  # the text wrapper closes it when collected; keep the bytes readable
        pass


def _run_dropin(fmt: str, path: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """The drop-in's `main`, in process (its own streams and exit code), which the CLI runs."""
    out, err = _Buffer(), _Buffer()
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", io.TextIOWrapper(out, encoding="utf-8", write_through=True))
        m.setattr(sys, "stderr", io.TextIOWrapper(err, encoding="utf-8", write_through=True))
        try:
            dropin.main(["decrypt", *_types(fmt), str(path)])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        sys.stdout.flush()
        sys.stderr.flush()
    return Outcome(code == 0, out.getvalue(), code, err.getvalue().decode("utf-8", "replace"))


def _same_output(fmt: str, a: bytes, b: bytes) -> bool:
    if fmt != "yaml":
        return a == b
    # Same data and the same comments; ours keeps the encrypted file's own layout.
    try:
        same_data = list(yaml.safe_load_all(a)) == list(yaml.safe_load_all(b))
    except yaml.YAMLError:
        return a == b
    comments = [sorted(re.findall(r"#.*", x.decode("utf-8", "replace"))) for x in (a, b)]
    return same_data and comments[0] == comments[1]


@dataclass
class Tally:
    cases: int = 0
    both_refuse: int = 0
    both_accept: int = 0
    sops_crashes: int = 0
    problems: list[str] = field(default_factory=list)


def _crashed(theirs: Outcome) -> bool:
    return theirs.code == 2 and "panic:" in theirs.message


def _judge(fmt: str, name: str, theirs: Outcome, lib: Outcome, cli: Outcome, tally: Tally) -> None:
    tally.cases += 1
    problems = tally.problems
    if lib.ok != theirs.ok or cli.ok != theirs.ok:
        problems.append(f"{name}: sops {'accepts' if theirs.ok else f'refuses ({theirs.code})'}, library "
                        f"{'accepts' if lib.ok else 'refuses: ' + lib.message[:160]}, drop-in exit {cli.code}")
        return
    if theirs.ok:
        tally.both_accept += 1
        if not _same_output(fmt, lib.out, theirs.out):
            problems.append(f"{name}: both accept, outputs differ")
        if cli.out != lib.out:
            problems.append(f"{name}: the drop-in's output differs from the library's")
        return
    tally.both_refuse += 1
    if lib.error is None or type(lib.error) is SecretsKitError or not isinstance(lib.error, SecretsKitError):
        problems.append(f"{name}: refused with an untyped error: {lib.message[:160]}")
    # A Go panic (exit 2, "panic:" on stderr) is no sops exit code to match: any typed refusal will do.
    crashed = _crashed(theirs)
    if crashed:
        tally.sops_crashes += 1
    if cli.code != theirs.code and not crashed:
        problems.append(f"{name}: drop-in exits {cli.code}, sops {theirs.code} ({theirs.message.strip()[:120]}; "
                        f"ours: {cli.message.strip()[:120]})")
    if MARK in lib.message or MARK in cli.message:
        problems.append(f"{name}: a secret is in the error message")


@pytest.mark.parametrize(("fmt", "source"), MATRIX, ids=[f"{f}-{s}" for f, s in MATRIX])
def test_tamper_matrix(fmt: str, source: str, sops_bin: Path, age_id, isolated_env: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    work = isolated_env
    base = _encrypt(fmt, source, sops_bin, age_id.recipient, work)
    other = str(pyrage.x25519.Identity.generate().to_public())
    cases: list[tuple[str, Path, bytes]] = []
    type_changes = 0
    for n, mutation in enumerate(mutations(fmt, base, other)):
        if source != "sops" and mutation.name.startswith(("type:", "every:")):
            # These act on the cipher alone, the same for either encrypter: a sample here.
            type_changes += 1
            if type_changes % 4:
                continue
        changed = mutation.apply(base)
        if changed is None or changed == base:
            continue
        path = work / f"case{n:03d}.{EXTENSIONS[fmt]}"
        data = changed.encode()
        path.write_bytes(data)
        cases.append((mutation.name, path, data))
    assert len(cases) >= 60, "the mutation list lost cases"
    if source in RULE_FLAGS:
        assert RULE_FLAGS[source][0].lstrip("-").replace("-", "_") in base  # the rule is in the metadata
    tally = Tally()
    cli_samples: dict[str, tuple[str, Path, Outcome]] = {}
    # Two sops workers (the machine's two cores are shared); ours runs meanwhile, in this thread.
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs_all = pool.map(lambda c: _run_sops(sops_bin, fmt, c[1]), cases)
        for (name, path, data), theirs in zip(cases, theirs_all, strict=True):
            lib = _run_library(fmt, data)
            cli = _run_dropin(fmt, path, monkeypatch)
            _judge(fmt, name, theirs, lib, cli, tally)
            cli_samples.setdefault("accept" if theirs.ok else f"refuse-{theirs.code}", (name, path, theirs))
    # The `secrets-kit sops -d` command itself, once per outcome sops gave.
    for name, path, theirs in cli_samples.values():
        done = run_cmd([*ours_cmd(), "-d", *_types(fmt), str(path)])
        if done.returncode != theirs.code and not (_crashed(theirs) and done.returncode not in (0, 1)):
            tally.problems.append(f"{name}: `secrets-kit sops -d` exits {done.returncode}, sops {theirs.code}")
        elif theirs.ok and not _same_output(fmt, done.stdout, theirs.out):
            tally.problems.append(f"{name}: `secrets-kit sops -d` output differs")
        if MARK in done.err:
            tally.problems.append(f"{name}: a secret is on the stderr of `secrets-kit sops -d`")
    print(f"\ntamper matrix {fmt}/{source}: {tally.cases} mutations, {tally.both_refuse} both refuse, "
          f"{tally.both_accept} both accept ({tally.sops_crashes} refusals are sops crashes), "
          f"{len(tally.problems)} mismatches")
    assert not tally.problems, "\n".join(tally.problems)
