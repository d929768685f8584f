#!/usr/bin/env python3
"""Fixed cost of a command: cold processes of `secrets-kit` next to the floor, kubeseal and sops.

Each case is a new process, run --runs times interleaved with the others (so the shared machine's
load hits them alike); the figure is the median wall time. The floor is the same interpreter doing
nothing but import the pieces of `cryptography` a seal needs: no Python sealer can start faster.
Targets (issue 10 item 9): one seal <= 1.3x the floor, `--help` <= 60 ms, in a wheel install.

    python bench/bench_startup.py                       # this interpreter's secrets-kit
    python bench/bench_startup.py --baseline /venv/bin --baseline-label "main (abc123)"  # side by side
    python bench/bench_startup.py --write-results       # put the table into bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_sealed import CRYPTO_IMPORTS, make_secret, run  # noqa: E402
from common import peer, write_section  # noqa: E402

HEADING = "## CLI start-up: the fixed cost of a command"
SEAL_TARGET, HELP_TARGET_MS = 1.3, 60
FLOOR = "floor: the interpreter importing what a seal needs of `cryptography`"
BARE = "`python -c pass`"


def cases(bin_dir: Path, cert: Path) -> dict[str, list[str]]:
    """What one installation runs: its own interpreter for the floors, its console script for the rest."""
    python, script = str(bin_dir / "python"), str(bin_dir / "secrets-kit")
    return {
        FLOOR: [python, "-c", CRYPTO_IMPORTS],
        BARE: [python, "-c", "pass"],
        "`secrets-kit seal --cert cert.pem < secret.yaml`": [script, "seal", "--cert", str(cert)],
        "`secrets-kit kubeseal --cert cert.pem < secret.yaml`": [script, "kubeseal", "--cert", str(cert)],
        "`secrets-kit --help`": [script, "--help"],
    }


def bench(installs: dict[str, Path], runs: int) -> list[tuple[str, str, str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        from secrets_kit.sealed.keys import KeyFolder

        cert = KeyFolder(Path(tmp) / "keys").create(name="cluster").cert_path  # RSA-4096, like the controller's
        secret = Path(tmp) / "secret.yaml"
        secret.write_text(make_secret(1))
        argvs = {(label, case): argv for label, bin_dir in installs.items()
                 for case, argv in cases(bin_dir, cert).items()}
        argvs[("upstream", "`kubeseal --cert cert.pem < secret.yaml` (Go)")] = [peer("kubeseal"), "--cert", str(cert)]
        argvs[("upstream", "`kubeseal --help`")] = [peer("kubeseal"), "--help"]
        argvs[("upstream", "`sops --help`")] = [peer("sops"), "--help"]
        times: dict[tuple[str, str], list[float]] = {key: [] for key in argvs}
        for argv in argvs.values():  # warm the page cache and write the .pyc files
            run(argv, stdin=secret)
        for _ in range(runs):
            for key, argv in argvs.items():
                times[key].append(run(argv, stdin=secret).seconds)
    medians = {key: statistics.median(values) for key, values in times.items()}
    rows = []
    for (label, case), seconds in medians.items():
        floor = medians.get((label, FLOOR))
        ratio = f"{seconds / floor:.2f}x the floor" if floor else ""
        if case.startswith(("`secrets-kit seal", "`secrets-kit kubeseal")) and floor:
            ratio += f" (target <= {SEAL_TARGET}x: {'met' if seconds / floor <= SEAL_TARGET else 'missed'})"
        if case == "`secrets-kit --help`":
            bare = medians[(label, BARE)]
            ratio += (f", {seconds / bare:.2f}x `python -c pass` (target <= {HELP_TARGET_MS} ms: "
                      f"{'met' if seconds * 1000 <= HELP_TARGET_MS else 'missed'} at this load)")
        rows.append((label, case, f"{seconds * 1000:.0f} ms", ratio))
    return rows


def table(rows: list[tuple[str, str, str, str]], installs: dict[str, Path], runs: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    where = "; ".join(f"{label}: `{path}`" for label, path in installs.items())
    lines = [
        HEADING, "",
        f"`python bench/bench_startup.py --runs {runs}` on {dt.date.today().isoformat()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs (load average {load:.1f} at the end: the machine is "
        f"shared); medians of {runs} cold processes, interleaved. Installs: {where}.", "",
        "| install | command | wall time | ratio |", "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines) + "\n"


NOTES = """\
How the fixed cost is kept down: commands are listed from a static table and imported only when
run; boto3, google-cloud, kopf, kubernetes, hvac, rich and ruamel.yaml are never imported by these
commands, nor `tempfile` (`files.write_atomic` makes its own temporary file: tempfile pulled shutil,
bz2, lzma and random); `secrets-kit seal` and the drop-ins start without click: `secrets-kit seal`
and `secrets-kit kubeseal` parse a command line of known flags with one small parser
(`cli/fastargs.py`, a flag table per command that a test checks against the click command) and load
click only for --help, the rarer modes (`seal --edit`, `--re-encrypt`) or to report an error, word
for word as click prints it (tests/sealed/test_seal_front.py); `secrets-kit --help` is printed from
the command table; no dataclasses on the seal path (`dataclasses` imports inspect, ast, dis and
tokenize); `threading` loads only where a Keyring is made; regexes a command may not use compile on
first use (`secrets_kit/lazyre.py`); the version is a literal.

Since 2026-12-04 (the before -> after rows above):
- the hot commands (seal, kubeseal, sops, --help) end through `cli/leave.py`: atexit handlers run
  and the streams are flushed, then the process exits without the interpreter's teardown, which
  took about 6 ms after a seal (freeing cryptography's and every other module);
- a seal from stdin to stdout (and a kubeseal, but for json) loads no pathlib (with urllib.parse, ipaddress, fnmatch: about 3 ms),
  json, datetime (the certificate's dates are compared as (year, ..., second) tuples; datetimes are
  built only to be shown), nor copy/weakref (`manifests.clone` copies JSON-shaped values);
- no typing.ForwardRef is made: string annotations of a NamedTuple become ForwardRefs, and the first
  one compiles with the builtin compile(), whose first call builds the AST types (about 1 ms); the
  modules with NamedTuples on the seal path evaluate their annotations, the rest use plain classes.
`tests/sealed/test_import_budget.py` keeps each hot command's modules (none of the heavy ones, no
click for seal, kubeseal and --help, none of pathlib/json/datetime/copy for a seal, a count beyond
the floor, no ForwardRef) and `tests/sealed/test_quick_exit.py` what the quick exit must keep
(output through a pipe, exit codes, atexit handlers, live threads, a closed pipe).

What still separates a seal from the floor: about 25 modules of our own (each a fraction of a
millisecond to find, read and run), base64 and the work (reading the certificate's key into
OpenSSL, under 1 ms). `secrets-kit kubeseal` also reads the kubeconfig for the default namespace
(k8s/kubeconfig.py handles paths with os.path for that reason) and loads json, its default output
format. Installs are venvs without
the system site-packages: on this machine those hold .pth files that load about 70 modules
(pathlib, tempfile, typing, ...) into every interpreter, which would hide import costs (and
inflate the floor). Wall times swing with the shared machine's load; the ratios to the same run's
floor and bare interpreter much less."""




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--baseline", type=Path, help="bin/ folder of another install to measure alongside")
    parser.add_argument("--baseline-label", default="baseline", help="its name in the table, e.g. `main (abc123)`")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    installs = {"this tree": Path(sys.executable).parent}
    if args.baseline:
        installs = {args.baseline_label: args.baseline, **installs}
    text = table(bench(installs, args.runs), installs, args.runs) + "\n" + NOTES + "\n"
    print(text)
    if args.write_results:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
