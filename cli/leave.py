"""Ending a short command without the interpreter's teardown.

A cold `secrets-kit seal` spends about 6 ms after its work is done, in the interpreter freeing every
module and object (cryptography's among them): more than the seal itself. The hot commands end with
`leave(code)` instead: the standard streams are flushed, atexit handlers run (logging, tempfile's
and weakref's finalizers), and the process exits at once. Where that could lose anything (a live
thread, a stream that will not flush, a message as exit status) it exits the ordinary way.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable
from typing import NoReturn


def run_then_leave(main: Callable[[], object]) -> NoReturn:
    """Run a console entry's `main` (which ends by raising SystemExit, or returns), then leave()."""
    try:
        main()
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: str | int | None = 0) -> NoReturn:
    """Exit with `code` (as sys.exit takes it), skipping the interpreter's teardown when safe."""
    status = 0 if code is None else code
    threading = sys.modules.get("threading")
    if not isinstance(status, int) or (threading is not None and threading.active_count() > 1):
        sys.exit(code)  # a message to print, or threads to join: the ordinary exit does both
    atexit._run_exitfuncs()  # first: a handler may still write (logging's flush, a last message)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None and not stream.closed:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)  # e.g. a closed pipe: the ordinary exit reports it as Python does
    os._exit(status & 0xFF)
