"""Small helpers shared by the benchmarks: timing commands and finding peers."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS_BIN = Path(os.environ.get("SECRETS_KIT_PEERS", Path.home() / ".cache" / "secrets-kit-peers")) / "bin"


def peer(name: str) -> str:
    path = PEERS_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} not found: run `python -m tests.peers.install`")
    return found


def secrets_kit() -> list[str]:
    """Our CLI via its installed console script (what users run), else via python -m."""
    script = Path(sys.executable).parent / "secrets-kit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "secrets_kit_cli"]


def time_command(argv: list[str], runs: int = 5, **kwargs: object) -> float:
    """Median wall time in seconds of `runs` executions (after one warm-up run)."""
    subprocess.run(argv, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def peak_rss_mib_of_children() -> float:
    """Peak resident set size of the largest child process waited for so far."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def write_section(heading: str, text: str) -> None:
    """Put `text` (a section starting with `heading`) into bench/RESULTS.md: in place of the section
    with that heading if there is one, else at the end; every other section stays as it is."""
    path = ROOT / "bench" / "RESULTS.md"
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    if heading not in current:
        path.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    start = current.index(heading)
    rest = current[start + len(heading):]
    nxt = rest.find("\n## ")
    after = rest[nxt + 1:] if nxt >= 0 else ""
    path.write_text(current[:start] + text.rstrip("\n") + "\n" + ("\n" + after if after else ""))
