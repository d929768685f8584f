"""What every fuzz test asserts: the parser ends in success or a SecretsKitError, within a time bound.

Two profiles (tests/conftest.py loads HYPOTHESIS_PROFILE): `reproducible` (CI: derandomized, few
examples per parser, the whole folder well under a minute) and `explore` (`make fuzz`: random,
many examples, minutes; `tests/fuzz/run.py` also caps the process's memory). A failing input found
by exploring becomes a named case in test_regressions.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings

from secrets_kit.errors import SecretsKitError

EXPLORE = os.environ.get("HYPOTHESIS_PROFILE") == "explore"
TIME_BOUND = 10.0  # seconds per input (the acceptance bound)
MARK = "M4RKED-s3cret"  # a value no message may show

COUNTS: Counter[str] = Counter()  # inputs run per parser, reported by `make fuzz`
SECONDS: Counter[str] = Counter()

_T = TypeVar("_T")


# Scales the exploring profile's example counts (e.g. 0.1 for a quick look, 3 for a longer hunt).
SCALE = float(os.environ.get("SECRETS_KIT_FUZZ_SCALE", "1") or 1)


def fuzz_settings(ci: int = 60, explore: int = 4000) -> settings:
    # No `explain` phase: its line tracer slows every input several times over (and the time bound with it).
    return settings(max_examples=max(1, int(explore * SCALE)) if EXPLORE else ci, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), phases=[p for p in Phase if p != Phase.explain])


class Hang(BaseException):
    """The time bound passed (a BaseException: `except Exception` in the code under test cannot eat it)."""


@contextmanager
def time_bound(seconds: float = TIME_BOUND) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def typed(parser: str, fn: Callable[[], _T]) -> _T | SecretsKitError:
    """Run `fn`: its result, or the SecretsKitError it raised. Anything else fails the test (with the
    input, which hypothesis prints); so does a run over the time bound."""
    COUNTS[parser] += 1
    start = time.monotonic()
    try:
        with time_bound():
            return fn()
    except SecretsKitError as err:
        assert MARK not in str(err), f"{parser}: a marked value in the message: {err}"
        return err
    finally:
        SECONDS[parser] += time.monotonic() - start


def write_stats() -> None:
    """Inputs and seconds per parser, to $SECRETS_KIT_FUZZ_STATS (merged with what is there)."""
    path = os.environ.get("SECRETS_KIT_FUZZ_STATS")
    if not path or not COUNTS:
        return
    stats: dict[str, dict[str, float]] = {}
    if os.path.exists(path):
        with open(path) as f:
            stats = json.load(f)
    for name, count in COUNTS.items():
        entry = stats.setdefault(name, {"inputs": 0, "seconds": 0.0})
        entry["inputs"] += count
        entry["seconds"] = round(entry["seconds"] + SECONDS[name], 2)
    with open(path, "w") as f:
        json.dump(stats, f, indent=1, sort_keys=True)


def scratch(factory: Any, name: str) -> Path:
    """A folder of one fuzz test's own under pytest's base temp (reused across examples). Never the base temp
    itself: a `.sops.yaml` written there would be found by every later test's sops config lookup."""
    folder = Path(factory.getbasetemp()) / f"fuzz-{name}"
    folder.mkdir(exist_ok=True)
    return folder
