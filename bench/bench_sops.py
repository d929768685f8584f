"""SOPS: ours vs sops 3.13 on 10,000-value YAML and JSON files, in the same run.

Measures (median of N runs, after a warm-up): decrypt (of a file sops wrote, so both
read the same bytes), encrypt, peak RSS of each process, and `set` of one value in the
encrypted file with the size of the Git diff it leaves. Targets: decrypt no slower
than sops, encrypt within 1.5x. Then a 1,000-value decrypt, where start-up dominates
(target: at most 1.2x sops's time), with runs of the programs interleaved so that both
see the same machine load; `--before DIR` adds the same command on another source tree
(e.g. a checkout of main) for a before/after row.

    python bench/bench_sops.py [--runs 5] [--before DIR] [--write]   (--write updates bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, peer, secrets_kit

SECTION = "## SOPS"


def make_files(folder: Path) -> dict[str, Path]:
    rng = random.Random(7)

    def value() -> str:
        return "".join(rng.choices(string.ascii_letters + string.digits, k=24))

    data = {f"service{s:03d}": {f"key{k:03d}": value() for k in range(100)} for s in range(100)}
    yaml_path = folder / "big.yaml"
    lines = []
    for section, values in data.items():
        lines.append(f"{section}:")
        lines.extend(f"    {k}: {v}" for k, v in values.items())
    yaml_path.write_text("\n".join(lines) + "\n")
    json_path = folder / "big.json"
    json_path.write_text(json.dumps(data, indent="\t") + "\n")
    return {"yaml": yaml_path, "json": json_path}


def measure(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float, bytes]:
    _timed_rss(argv, env, cwd)  # warm-up (page cache, pyc files)
    times, peaks, out = [], [], b""
    for _ in range(runs):
        elapsed, rss, out = _timed_rss(argv, env, cwd)
        times.append(elapsed)
        peaks.append(rss)
    return statistics.median(times), max(peaks), out


def _timed_rss(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, bytes]:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out_file:
        proc = subprocess.Popen(argv, stdout=out_file, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"{' '.join(argv[:3])} failed with {proc.returncode}")
        out_file.seek(0)
        out = out_file.read()
    return elapsed, usage.ru_maxrss / 1024, out


def interleaved(commands: dict[str, tuple[list[str], dict[str, str]]], cwd: Path, runs: int) -> dict[str, float]:
    """Median wall time of each command, running them in turn `runs` times (after a warm-up round)."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, (argv, env) in commands.items():
            elapsed, _, _ = _timed_rss(argv, env, cwd)
            if round_:
                samples[name].append(elapsed)
    return {name: statistics.median(values) for name, values in samples.items()}


def small_decrypt_rows(sops: list[str], env: dict[str, str], folder: Path, recipient: str, runs: int,
                       before: Path | None) -> list[str]:
    """1,000 values (10 maps x 100 keys): decrypt, where the fixed cost of starting dominates."""
    rng = random.Random(11)
    data = {f"service{s:02d}": {f"key{k:02d}": "".join(rng.choices(string.ascii_letters, k=24)) for k in range(100)}
            for s in range(10)}
    plain = {"yaml": "".join(f"{s}:\n" + "".join(f"    {k}: {v}\n" for k, v in d.items()) for s, d in data.items()),
             "json": json.dumps(data, indent="\t") + "\n"}
    bindir = Path(sys.executable).parent
    rows = ["", f"1,000 string values (10 maps x 100 keys), decrypt of a file sops wrote; median of {runs} interleaved "
            "runs (each round runs every command once, so all see the same load).", "",
            "| file | command | time | ratio to sops |", "|---|---|---|---|"]
    for fmt, text in plain.items():
        source = folder / f"small.{fmt}"
        source.write_text(text)
        enc = subprocess.run([*sops, "encrypt", "--age", recipient, str(source)], env=env, cwd=folder,
                             capture_output=True, check=True).stdout
        target = folder / f"small.enc.{fmt}"
        target.write_bytes(enc)
        argv = ["decrypt", str(target)]
        commands = {"sops decrypt": ([*sops, *argv], env),
                    # The floor of any Python drop-in: start Python, import AES-GCM and age, nothing else.
                    "floor: python -c 'import AESGCM, pyrage'": (
                        [sys.executable, "-c", "from cryptography.hazmat.primitives.ciphers.aead import AESGCM; "
                         "import pyrage"], env),
                    "secrets-kit sops decrypt": ([*secrets_kit(), "sops", *argv], env),
                    "secrets-kit-sops decrypt": ([str(bindir / "secrets-kit-sops"), *argv], env),
                    "python -m secrets_kit_cli sops decrypt (this tree)": (
                        [sys.executable, "-m", "secrets_kit_cli", "sops", *argv], env)}
        if before is not None:
            commands["python -m secrets_kit_cli sops decrypt (--before tree)"] = (
                [sys.executable, "-m", "secrets_kit_cli", "sops", *argv], {**env, "PYTHONPATH": str(before)})
        times = interleaved(commands, folder, runs)
        for name, value in times.items():
            rows.append(f"| {fmt} | `{name}` | {value * 1000:.0f} ms | {value / times['sops decrypt']:.2f}x |")
    return rows


def import_tree(source: Path, folder: Path) -> Path:
    """A folder importable with PYTHONPATH that maps `secrets_kit` and `secrets_kit_cli` to `source`'s."""
    tree = folder / "before-tree"
    tree.mkdir()
    (tree / "secrets_kit").symlink_to(source.resolve() / "secrets_kit")
    (tree / "secrets_kit_cli").symlink_to(source.resolve() / "cli")
    return tree


def git_diff_stat(repo: Path, path: Path) -> tuple[int, int]:
    """(changed lines, diff bytes) of the working tree against HEAD."""
    diff = subprocess.run(["git", "diff", "--unified=0", "--no-color", "--", str(path)], cwd=repo,
                          capture_output=True, check=True).stdout
    changed = sum(1 for line in diff.decode().splitlines()
                  if line[:1] in "+-" and not line.startswith(("+++", "---")))
    return changed, len(diff)


def set_benchmark(tool: list[str], enc_source: Path, folder: Path, env: dict[str, str], runs: int) -> tuple[
        float, int, int]:
    repo = folder / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir()
    git_env = {**env, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=git_env)
    target = repo / enc_source.name
    times = []
    changed = size = 0
    for i in range(runs + 1):
        shutil.copyfile(enc_source, target)
        if i == 0:
            subprocess.run(["git", "add", "."], cwd=repo, check=True, env=git_env)
            subprocess.run(["git", "commit", "-qm", "base"], cwd=repo, check=True, env=git_env)
        argv = [*tool, "set", str(target), '["service050"]["key050"]', '"changed-value"']
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=repo)
        if i:
            times.append(time.perf_counter() - started)
        changed, size = git_diff_stat(repo, target)
    return statistics.median(times), changed, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="replace the SOPS section of bench/RESULTS.md")
    parser.add_argument("--before", type=Path, help="another source tree (e.g. a checkout of main) to compare")
    parser.add_argument("--small-only", action="store_true", help="only the 1,000-value decrypt rows")
    opts = parser.parse_args()
    if opts.small_only and opts.write:
        parser.error("--small-only measures part of the section: it cannot --write it")
    import pyrage

    sops = [peer("sops")]
    ours = [*secrets_kit(), "sops"]
    # What a `sops` wrapper for HELM_SECRETS_SOPS_PATH runs: the drop-in without the click command tree.
    standalone = [sys.executable, "-m", "secrets_kit_cli.dropins.sops"]
    lines = [SECTION, ""]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        identity = pyrage.x25519.Identity.generate()
        keys = folder / "keys.txt"
        keys.write_text(f"{identity}\n")
        recipient = str(identity.to_public())
        env = {**os.environ, "SOPS_AGE_KEY_FILE": str(keys), "SOPS_DISABLE_VERSION_CHECK": "1",
               "XDG_CONFIG_HOME": str(folder / "cfg"),
               # Bytecode as an installed wheel has it (pip compiles it): written on the warm-up run into
               # a folder of this run, even where PYTHONDONTWRITEBYTECODE is set, and never into a source tree.
               "PYTHONPYCACHEPREFIX": str(folder / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        files = {} if opts.small_only else make_files(folder)
        lines.append(f"10,000 string values (100 maps x 100 keys), age recipient; median of {opts.runs} runs "
                     f"after a warm-up; wall time includes process start (`python bench/bench_sops.py`, "
                     f"{time.strftime('%Y-%m-%d')}).")
        lines.append("")
        lines.append("| file | operation | sops 3.13.3 | secrets-kit | ratio ours/sops | peak RSS sops / ours |")
        lines.append("|---|---|---|---|---|---|")
        for fmt, plain in files.items():
            enc_argv = ["encrypt", "--age", recipient, str(plain)]
            t_sops, m_sops, sops_enc = measure([*sops, *enc_argv], env, folder, opts.runs)
            t_ours, m_ours, _ = measure([*ours, *enc_argv], env, folder, opts.runs)
            lines.append(f"| {fmt} | encrypt | {t_sops * 1000:.0f} ms | {t_ours * 1000:.0f} ms | "
                         f"{t_ours / t_sops:.2f}x | {m_sops:.0f} / {m_ours:.0f} MiB |")
            enc_path = folder / f"enc.{fmt}"
            enc_path.write_bytes(sops_enc)
            dec_argv = ["decrypt", str(enc_path)]
            t_sops, m_sops, a = measure([*sops, *dec_argv], env, folder, opts.runs)
            t_ours, m_ours, b = measure([*ours, *dec_argv], env, folder, opts.runs)
            same = "same output" if (a == b or fmt == "yaml") else "OUTPUT DIFFERS"
            lines.append(f"| {fmt} | decrypt | {t_sops * 1000:.0f} ms | {t_ours * 1000:.0f} ms | "
                         f"{t_ours / t_sops:.2f}x | {m_sops:.0f} / {m_ours:.0f} MiB |")
            t_alone, m_alone, _ = measure([*standalone, *dec_argv], env, folder, opts.runs)
            lines.append(f"| {fmt} | decrypt, standalone entry | {t_sops * 1000:.0f} ms | {t_alone * 1000:.0f} ms | "
                         f"{t_alone / t_sops:.2f}x | {m_sops:.0f} / {m_alone:.0f} MiB |")
            if same != "same output":
                lines.append(f"| {fmt} | decrypt | {same} | | | |")
            s_time, s_lines, s_bytes = set_benchmark(sops, enc_path, folder, env, max(2, opts.runs // 2))
            o_time, o_lines, o_bytes = set_benchmark(ours, enc_path, folder, env, max(2, opts.runs // 2))
            lines.append(f"| {fmt} | set one value | {s_time * 1000:.0f} ms | {o_time * 1000:.0f} ms | "
                         f"{o_time / s_time:.2f}x | |")
            lines.append(f"| {fmt} | `git diff` after set | {s_lines} lines, {s_bytes:,} bytes | "
                         f"{o_lines} lines, {o_bytes:,} bytes | | |")
        if not opts.small_only:
            # A file in its author's own layout (2-space indent, comments, flow lists), encrypted by us:
            # sops re-emits it in its own layout on `set`, we change the value's line only.
            styled = folder / "styled.yaml"
            body = ["# service settings (benchmark data)"]
            for s_index in range(100):
                body.append(f"service{s_index:03d}:  # owner: team-{s_index % 7}")
                body.extend(f"  key{k:03d}: value-{s_index}-{k}" for k in range(99))
                body.append(f"  ports: [{8000 + s_index}, {9000 + s_index}]")
            styled.write_text("\n".join(body) + "\n")
            enc = subprocess.run([*ours, "encrypt", "--age", recipient, str(styled)], env=env, cwd=folder,
                                 capture_output=True, check=True).stdout
            styled_enc = folder / "styled.enc.yaml"
            styled_enc.write_bytes(enc)
            s_time, s_lines, s_bytes = set_benchmark(sops, styled_enc, folder, env, 2)
            o_time, o_lines, o_bytes = set_benchmark(ours, styled_enc, folder, env, 2)
            lines.append(f"| yaml, own layout | set one value | {s_time * 1000:.0f} ms | {o_time * 1000:.0f} ms | "
                         f"{o_time / s_time:.2f}x | |")
            lines.append(f"| yaml, own layout | `git diff` after set | {s_lines:,} lines, {s_bytes:,} bytes | "
                         f"{o_lines} lines, {o_bytes:,} bytes | | |")
        before = import_tree(opts.before, folder) if opts.before else None
        lines.extend(small_decrypt_rows(sops, env, folder, recipient, max(opts.runs, 9), before))
    lines.append("")
    lines.append("- Decrypt reads a file written by sops, so both programs parse identical bytes.")
    lines.append("- \"standalone entry\": `python -m secrets_kit_cli.dropins.sops` (no click import), what a "
                 "two-line `sops` wrapper script for HELM_SECRETS_SOPS_PATH runs.")
    lines.append("- \"own layout\": 2-space indent, comments and flow lists as a person writes them; sops rewrites "
                 "the whole file in its layout on `set`, secrets-kit keeps it.")
    lines.append("- 1,000 values: `secrets-kit sops` now reaches the drop-in before click is imported (`cli/main.py`), "
                 "as `secrets-kit-sops` does; the `--before` row is the same command on the tree before that change "
                 "(its `secrets-kit sops` imported click and the whole command group first). The floor row is what "
                 "any Python drop-in pays before reading a byte: start Python and import AES-GCM and age.")
    lines.append("- Python commands run with bytecode cached (PYTHONPYCACHEPREFIX in the run's folder, written on the "
                 "warm-up run), as in a wheel install; without bytecode every import compiles its source again.")
    lines.append("- `set` diff: sops re-emits the file (same IVs, so mostly identical); ours rewrites only the "
                 "value, `lastmodified` and `mac` lines in place.")
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.write:
        results = ROOT / "bench" / "RESULTS.md"
        current = results.read_text() if results.exists() else "# Benchmark results\n"
        if SECTION in current:
            before, _, rest = current.partition(SECTION)
            after = rest.split("\n## ", 1)
            current = before + text + ("\n## " + after[1] if len(after) > 1 else "")
        else:
            current = current.rstrip("\n") + "\n\n" + text
        results.write_text(current)


if __name__ == "__main__":
    main()
