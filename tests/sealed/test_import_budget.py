"""The fixed cost of the hot commands: the modules each may load (issue 10 item 9).

Importing is most of a cold seal's time (bench/bench_startup.py), so a new import on these paths
must be a decision: each command runs in a fresh interpreter and its modules are compared with
what it may load. The floor is what any Python sealer loads: the RSA-OAEP and AES-GCM pieces of
`cryptography` (plus the interpreter's own start-up modules).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import secret, yaml_of

FLOOR = ("from cryptography.hazmat.primitives.ciphers.aead import AESGCM; "
         "from cryptography.hazmat.primitives.asymmetric import padding, rsa; "
         "from cryptography.hazmat.primitives import hashes")
RUN = """
import json, sys
from secrets_kit_cli.main import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
sys.stdout.flush()
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""
# Never on a hot path: the clouds, the operator, rich, the round-trip YAML library, what `tempfile`
# drags in (shutil, bz2, lzma), and `dataclasses` with what it imports (inspect, ast, dis, tokenize):
# the records on these paths are NamedTuples.
NEVER = ("boto3", "botocore", "google", "kopf", "kubernetes", "hvac", "rich", "ruamel", "tempfile", "shutil",
         "bz2", "lzma", "yaml", "dataclasses", "inspect", "ast", "dis", "tokenize")
# What `secrets-kit seal` (and, but for json, `secrets-kit kubeseal`) from stdin to stdout never loads either: pathlib with urllib.parse and ipaddress (~3 ms), json, datetime (the certificate's
# dates are compared as tuples), copy with weakref (JSON-shaped values are cloned by manifests.clone).
NEVER_ON_SEAL = ("pathlib", "urllib", "ipaddress", "json", "datetime", "copy", "weakref", "fnmatch")
# Modules each command may load beyond the floor: measured (editable install: 28, 29; wheel: 46, 47; for --help,
# which loads neither click nor cryptography, a handful) plus room for a wheel install, which loads
# pathlib & co. only when a command does; click alone is ~30 more.
BUDGET = {"seal": 50, "kubeseal": 50, "--help": 20}
CLICK_FREE = ("seal", "kubeseal", "--help")


def modules(tmp_path: Path, args: list[str], stdin: bytes = b"") -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", RUN, str(out), *args], input=stdin, capture_output=True,
                          timeout=60, check=False, env={"KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"})
    assert out.exists(), done.stderr
    return set(json.loads(out.read_text()))


def startup() -> set[str]:
    """What the bare interpreter has loaded before any code of ours (site hooks, e.g. an editable
    install's finder, may load tempfile & co.: not a cost of the command)."""
    code = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    return set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))


def floor() -> set[str]:
    code = FLOOR + "; import json, sys; print(json.dumps(sorted(sys.modules)))"
    return set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))


@pytest.mark.parametrize("command", list(BUDGET))
def test_hot_command_imports_stay_within_budget(tmp_path, cert_file, command):
    source = yaml_of(secret(string_data={"password": "budget-value"})).encode()
    args = {"seal": ["seal", "--cert", str(cert_file)], "kubeseal": ["kubeseal", "--cert", str(cert_file)],
            "--help": ["--help"]}[command]
    loaded = modules(tmp_path, args, source)
    assert "secrets_kit" in loaded
    heavy = sorted(m for m in loaded - startup() if m.split(".")[0] in NEVER)
    assert heavy == [], f"{command} imports {heavy}"
    if command in CLICK_FREE:
        assert not [m for m in loaded if m.split(".")[0] == "click"], f"{command} runs without click"
    if command in ("seal", "kubeseal"):
        # kubeseal's default output is JSON: json is its own to load
        never = NEVER_ON_SEAL if command == "seal" else tuple(m for m in NEVER_ON_SEAL if m != "json")
        avoidable = sorted(m for m in loaded - startup() if m.split(".")[0] in never)
        assert avoidable == [], f"{command} imports {avoidable}"
    extra = sorted(loaded - floor())
    assert len(extra) <= BUDGET[command], f"{command} loads {len(extra)} modules beyond the floor: {extra}"


def test_static_help_is_what_click_prints():
    """`secrets-kit --help` is printed without click; it must be the group's own help, word for word
    (click's, at its widest: 80 columns)."""
    from secrets_kit_cli.main import static_help

    code = ("from secrets_kit_cli.main import group\n"
            "try:\n    group().main(['--help'], prog_name='secrets-kit', standalone_mode=False)\n"
            "except SystemExit:\n    pass\n")
    rendered = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}).stdout
    assert static_help() == rendered
    fast = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "--help"], capture_output=True, text=True,
                          check=True).stdout
    assert fast == rendered
    for name in ("seal", "unseal", "keys", "kubeseal", "sops", "render", "operator", "hook", "quickstart"):
        assert f"\n  {name} " in fast


# EVALUATED_ANNOTATIONS: typing.NamedTuple turns string annotations (`from __future__ import
# annotations`) into ForwardRefs, each compiled with the builtin compile(), whose first call in a
# process builds the AST types: about 1 ms of a cold seal. The modules that define NamedTuples on
# the seal path therefore evaluate their annotations; other records there are plain classes.
FORWARD_REFS = """
import sys, typing
made = []
init = typing.ForwardRef.__init__
def counting(self, arg, *rest, **kw):
    made.append(arg)
    init(self, arg, *rest, **kw)
typing.ForwardRef.__init__ = counting
from secrets_kit_cli.main import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
open(sys.argv[1], "w").write("\\n".join(made))
"""


@pytest.mark.parametrize("command", ["seal", "kubeseal"])
def test_seal_makes_no_forward_references(tmp_path, cert_file, command):
    out = tmp_path / "refs.txt"
    source = yaml_of(secret(string_data={"password": "budget-value"})).encode()
    done = subprocess.run([sys.executable, "-c", FORWARD_REFS, str(out), command, "--cert", str(cert_file)],
                          input=source, capture_output=True, timeout=60, check=False,
                          env={"KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"})
    assert b"SealedSecret" in done.stdout, done.stderr
    assert out.read_text() == "", f"string annotations made into ForwardRefs on the seal path: {out.read_text()}"
