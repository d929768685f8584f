"""Run a build tool (kubectl kustomize, kustomize, helm) safely: argv only, a clean environment,
a deadline, and errors scrubbed of secret values before they reach a message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import PeerMissingError, RenderError
from .redact import Redactor

# Only these variables reach a build tool: never SOPS identities, cloud credentials,
# the re-seal key, or the Argo CD user-controlled ARGOCD_ENV_* / PARAM_* variables.
_PASS = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "USER", "KUSTOMIZE_PLUGIN_HOME")
_PASS_PREFIXES = ("LC_", "XDG_", "HELM_")
MAX_ERROR_CHARS = 2000
DEFAULT_TIMEOUT = 50.0  # Argo CD gives a plugin 60 s in total by default


# klog's line header (`E1202 16:44:52.149662 30672 run.go:72] `) and kustomize's `"command failed" err="..."`.
_KLOG = re.compile(r'^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\] (?:"command failed" err=)?', re.M)
_MISSING = re.compile(r"accumulating resources from '([^']+)': evalsymlink failure on '([^']+)' : "
                      r"lstat [^:]+: no such file or directory")


def tool_message(stderr: str) -> str:
    """A build tool's error as one readable line: no klog header, no Go quoting, a missing file named plainly."""
    text = _KLOG.sub("", stderr).strip()
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"')
    missing = _MISSING.search(text)
    if missing:
        return f"the kustomization lists {missing.group(1)}, which does not exist ({missing.group(2)})"
    return " ".join(text.split())


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _PASS or k.startswith(_PASS_PREFIXES)}
    env.update(extra or {})
    return env


def which(name: str, *, env_var: str | None = None) -> str | None:
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    return shutil.which(name)


def require(name: str, *, env_var: str | None = None, what: str) -> str:
    found = which(name, env_var=env_var)
    if not found:
        hint = f"install {name}" + (f" or set {env_var}" if env_var else "")
        raise PeerMissingError(f"{name} not found: needed to {what}", hint=hint)
    return found


def run_tool(argv: Sequence[str], *, cwd: Path, redactor: Redactor, what: str, where: str,
             stdin: bytes | None = None, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """stdout of the tool; RenderError with its (scrubbed, trimmed) stderr if it fails."""
    try:
        done = subprocess.run(list(argv), cwd=cwd, input=stdin, capture_output=True, env=clean_env(),
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise PeerMissingError(f"{argv[0]} not found: needed to {what}", where=where) from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"{what} timed out after {timeout:.0f}s", where=where) from None
    if done.returncode != 0:
        # One line: the CLI's error is one line on stderr (Argo CD shows it as the app's condition).
        detail = tool_message(redactor.scrub(done.stderr.decode("utf-8", "replace")))
        if len(detail) > MAX_ERROR_CHARS:
            detail = "..." + detail[-MAX_ERROR_CHARS:]
        raise RenderError(f"{what} failed (exit {done.returncode}): {detail or 'no message'}", where=where)
    return done.stdout
