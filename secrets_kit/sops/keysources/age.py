"""age key source (pyrage): the `age` stanza of a sops file.

`enc` is an ASCII-armored age file holding the data key, encrypted to one recipient.
Identities are looked up where sops looks, and all found are tried:
SOPS_AGE_SSH_PRIVATE_KEY_FILE, SOPS_AGE_SSH_PRIVATE_KEY_CMD, ~/.ssh/id_ed25519 and
~/.ssh/id_rsa, SOPS_AGE_KEY (several keys per line allowed), SOPS_AGE_KEY_FILE,
SOPS_AGE_KEY_CMD (run with SOPS_AGE_RECIPIENT set) and `$XDG_CONFIG_HOME/sops/age/keys.txt`
(default `~/.config/sops/age/keys.txt`). Recipients may be `age1...` (X25519) or
`ssh-ed25519`/`ssh-rsa` public keys.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from ...errors import DecryptionError, KeyMaterialError
from .base import MasterKey

__all__ = ["AgeKey", "IdentitySet", "default_keys_path", "from_cli", "load_identities"]


def _pyrage() -> Any:
    import pyrage

    return pyrage


def default_keys_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def _shown(recipient: str) -> str:
    """The recipient as an error may quote it: never an identity (a private key) pasted by mistake."""
    if recipient.upper().startswith(("AGE-SECRET-KEY-", "AGE-PLUGIN-")) or "PRIVATE KEY" in recipient:
        return "<an age identity (private key), not a recipient>"
    return repr(recipient[:80] + ("…" if len(recipient) > 80 else ""))


def parse_recipient(text: str) -> Any:
    pyrage = _pyrage()
    recipient = text.strip()
    if recipient.upper().startswith("AGE-SECRET-KEY-") or "PRIVATE KEY" in recipient:
        raise KeyMaterialError(f"failed to parse input, unknown recipient type: {_shown(recipient)}",
                               hint="this is a private key: give its public recipient (`age-keygen -y`), "
                                    "and rotate the key if it was exposed")
    try:
        if recipient.startswith("age1pq1"):
            raise KeyMaterialError(f"age hybrid (post-quantum) recipient {recipient[:16]}… is not supported "
                                   "by the pyrage backend", hint="use an X25519 (age1…) or SSH recipient")
        if recipient.startswith("age1") and recipient.count("1") > 1:
            raise KeyMaterialError(f"age plugin recipient {recipient[:20]}… is not supported by secrets-kit",
                                   hint="use an X25519 (age1…) or SSH recipient")
        if recipient.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(recipient)
        if recipient.startswith("ssh-"):
            return pyrage.ssh.Recipient.from_str(recipient)
    except KeyMaterialError:
        raise
    except Exception:
        raise KeyMaterialError(f"failed to parse input as age recipient: {_shown(recipient)}",
                               hint="an age recipient looks like age1… (see `age-keygen -y`)") from None
    raise KeyMaterialError(f"failed to parse input, unknown recipient type: {_shown(recipient)}",
                           hint="an age recipient looks like age1…")


class IdentitySet:
    """Identities found, and where each came from (public keys only, for error messages)."""

    def __init__(self) -> None:
        self.identities: list[Any] = []
        self.sources: list[str] = []  # "SOPS_AGE_KEY_FILE /x/keys.txt: age1…"
        self.problems: list[str] = []  # why a location gave nothing
        self.unused: list[str] = []  # locations not set / not present

    def describe(self) -> str:
        parts = []
        if self.sources:
            parts.append("tried " + "; ".join(self.sources))
        else:
            parts.append("no age identity found")
        if self.problems:
            parts.append("problems: " + "; ".join(self.problems))
        if self.unused and not self.sources:
            parts.append("looked in " + ", ".join(self.unused))
        return ", ".join(parts)


def _public_of(identity: Any) -> str:
    try:
        return str(identity.to_public())
    except Exception:
        return "an SSH or plugin identity"


def _parse_identity_lines(text: str, location: str, many_per_line: bool, found: IdentitySet) -> None:
    pyrage = _pyrage()
    count = 0
    for raw in text.splitlines():
        line = raw.strip("\r")
        if not line or line.startswith("#"):
            continue
        words = line.split() if many_per_line else [line.strip()]
        for word in words:
            try:
                if word.startswith("AGE-SECRET-KEY-1"):
                    identity = pyrage.x25519.Identity.from_str(word)
                elif word.startswith("AGE-PLUGIN-") or word.startswith("AGE-SECRET-KEY-PQ-"):
                    found.problems.append(f"{location}: plugin/post-quantum identities are not supported")
                    continue
                else:
                    found.problems.append(f"{location}: unknown identity type")
                    continue
            except Exception:
                found.problems.append(f"{location}: malformed age identity")
                continue
            found.identities.append(identity)
            found.sources.append(f"{location}: {_public_of(identity)}")
            count += 1
    if count == 0:
        found.unused.append(location)


def _ssh_identity(data: bytes, location: str, found: IdentitySet) -> None:
    try:
        identity = _pyrage().ssh.Identity.from_buffer(data)
    except Exception:
        found.problems.append(f"{location}: not a usable (passphrase-less) SSH private key")
        return
    found.identities.append(identity)
    found.sources.append(f"{location}: SSH key")


def _run_cmd(command: str, recipient: str, env_name: str, found: IdentitySet) -> bytes | None:
    import shlex
    import subprocess

    try:
        args = shlex.split(command)
    except ValueError:
        found.problems.append(f"{env_name}: cannot parse the command")
        return None
    if not args:
        found.problems.append(f"{env_name}: empty command")
        return None
    env = {**os.environ, "SOPS_AGE_RECIPIENT": recipient}
    try:
        done = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        found.problems.append(f"{env_name}: failed to execute {args[0]}: {type(exc).__name__}")
        return None
    if done.returncode != 0:
        found.problems.append(f"{env_name}: {args[0]} exited with status {done.returncode}")
        return None
    return done.stdout


def load_identities(recipient: str = "") -> IdentitySet:
    """All age identities sops would find, in sops's order."""
    found = IdentitySet()
    env = os.environ
    ssh_file = env.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    if ssh_file is not None:
        try:
            _ssh_identity(Path(ssh_file).expanduser().read_bytes(), f"SOPS_AGE_SSH_PRIVATE_KEY_FILE {ssh_file}", found)
        except OSError as exc:
            found.problems.append(f"SOPS_AGE_SSH_PRIVATE_KEY_FILE {ssh_file}: {exc.strerror}")
    ssh_cmd = env.get("SOPS_AGE_SSH_PRIVATE_KEY_CMD")
    if ssh_cmd is not None:
        out = _run_cmd(ssh_cmd, recipient, "SOPS_AGE_SSH_PRIVATE_KEY_CMD", found)
        if out is not None:
            _ssh_identity(out, "SOPS_AGE_SSH_PRIVATE_KEY_CMD", found)
    home = Path.home()
    for name in ("id_ed25519", "id_rsa"):
        path = home / ".ssh" / name
        if path.is_file():
            try:
                _ssh_identity(path.read_bytes(), str(path), found)
            except OSError as exc:
                found.problems.append(f"{path}: {exc.strerror}")
    key_text = env.get("SOPS_AGE_KEY")
    if key_text is not None:
        _parse_identity_lines(key_text, "SOPS_AGE_KEY", True, found)
    else:
        found.unused.append("SOPS_AGE_KEY")
    key_file = env.get("SOPS_AGE_KEY_FILE")
    if key_file is not None:
        try:
            text = Path(key_file).expanduser().read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            found.problems.append(f"failed to open SOPS_AGE_KEY_FILE {key_file}: {exc.strerror}")
        else:
            _parse_identity_lines(text, f"SOPS_AGE_KEY_FILE {key_file}", False, found)
    else:
        found.unused.append("SOPS_AGE_KEY_FILE")
    key_cmd = env.get("SOPS_AGE_KEY_CMD")
    if key_cmd is not None:
        out = _run_cmd(key_cmd, recipient, "SOPS_AGE_KEY_CMD", found)
        if out is not None:
            _parse_identity_lines(out.decode("utf-8", "replace"), "SOPS_AGE_KEY_CMD", False, found)
    default = default_keys_path()
    try:
        text = default.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        found.unused.append(str(default))
    except OSError as exc:
        found.problems.append(f"{default}: {exc.strerror}")
    else:
        _parse_identity_lines(text, str(default), False, found)
    return found


# Identities are loaded once per process (per recipient when a command supplies them).
_CACHE: dict[str, IdentitySet] = {}


def _cached_identities(recipient: str) -> IdentitySet:
    cache_key = recipient if ("SOPS_AGE_KEY_CMD" in os.environ or "SOPS_AGE_SSH_PRIVATE_KEY_CMD" in os.environ) \
        else ""
    snapshot = "|".join(os.environ.get(n, "\0") for n in (
        "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "SOPS_AGE_SSH_PRIVATE_KEY_CMD", "XDG_CONFIG_HOME", "HOME"))
    full_key = cache_key + "\0" + snapshot
    found = _CACHE.get(full_key)
    if found is None:
        found = _CACHE[full_key] = load_identities(recipient)
    return found


def clear_cache() -> None:
    _CACHE.clear()


class AgeKey(MasterKey):
    stanza: ClassVar[str] = "age"

    def __init__(self, recipient: str) -> None:
        self.recipient = recipient.strip()

    @property
    def identifier(self) -> str:
        return self.recipient

    def __repr__(self) -> str:
        return f"AgeKey({self.recipient!r})"

    def wrap(self, data_key: bytes) -> dict[str, Any]:
        parsed = parse_recipient(self.recipient)
        try:
            armored = _pyrage().encrypt(bytes(data_key), [parsed], armored=True)
        except Exception as exc:
            raise KeyMaterialError(f"failed to encrypt the data key for age recipient {self.recipient}: "
                                   f"{type(exc).__name__}") from None
        text = armored.decode("ascii")
        if not text.endswith("\n"):
            text += "\n"
        return {"recipient": self.recipient, "enc": text}

    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        enc = stanza.get("enc")
        if not isinstance(enc, str) or not enc.strip():
            raise DecryptionError(f"age recipient {self.recipient}: the stanza has no encrypted data key")
        found = _cached_identities(self.recipient)
        if not found.identities:
            raise KeyMaterialError(f"age recipient {self.recipient}: {found.describe()}",
                                   hint="set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, or put the identity in "
                                        f"{default_keys_path()}")
        try:
            return bytes(_pyrage().decrypt(enc.encode("ascii", "replace"), found.identities))
        except Exception as exc:
            reason = "no identity matched" if "DecryptError" in type(exc).__name__ or "No matching" in str(exc) \
                else f"{type(exc).__name__}"
            raise DecryptionError(f"age recipient {self.recipient}: {reason} ({found.describe()})") from None

    @classmethod
    def from_stanza(cls, stanza: dict[str, Any]) -> AgeKey:
        recipient = stanza.get("recipient")
        if not isinstance(recipient, str) or not recipient:
            raise KeyMaterialError("age stanza without a recipient", where="sops metadata")
        return cls(recipient)


def from_cli(value: str, **opts: Any) -> list[MasterKey]:
    """`--age` / SOPS_AGE_RECIPIENTS: comma-separated recipients (validated now)."""
    keys: list[MasterKey] = []
    for part in value.split(","):
        recipient = part.strip()
        if not recipient:
            continue
        parse_recipient(recipient)
        keys.append(AgeKey(recipient))
    return keys
