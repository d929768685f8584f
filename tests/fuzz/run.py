"""`make fuzz`: the fuzz suite in its exploring profile, under a memory cap, with figures per parser.

    python -m tests.fuzz.run [PYTEST ARGS...]

HYPOTHESIS_PROFILE=explore (random inputs, many per parser); the address space is capped at what
the interpreter holds after imports plus 1 GiB, so an input that needs more fails with MemoryError
(an untyped error: a failure). Prints inputs and seconds per parser (what bench/RESULTS.md records).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time

MEMORY_PER_INPUT = 1 << 30


def _address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    os.environ["HYPOTHESIS_PROFILE"] = "explore"
    stats = os.environ.setdefault("SECRETS_KIT_FUZZ_STATS", os.path.join(tempfile.mkdtemp(), "fuzz-stats.json"))
    import pytest  # imported before the cap is measured: the cap is on top of it

    import secrets_kit.k8s.manifests  # noqa: F401
    cap = _address_space() + MEMORY_PER_INPUT + (512 << 20)  # imports still to come: ruamel, cryptography, ...
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    start = time.monotonic()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", "tests/fuzz", *argv])
    elapsed = time.monotonic() - start
    if os.path.exists(stats):
        with open(stats) as f:
            table = json.load(f)
        total = sum(int(v["inputs"]) for v in table.values())
        print(f"\n{'parser':28} {'inputs':>8} {'seconds':>8}")
        for name, entry in sorted(table.items()):
            print(f"{name:28} {int(entry['inputs']):8} {entry['seconds']:8.1f}")
        print(f"{'total':28} {total:8} {elapsed:8.1f}  (memory cap {cap >> 20} MiB)")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
