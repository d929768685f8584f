"""The operator's settings: upstream's controller flags, parsed into one frozen value."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass, field

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


class OptionError(ValueError):
    """A flag value that cannot be used; the message names the flag."""


def parse_go_duration(text: str, flag: str) -> dt.timedelta:
    """Go's time.ParseDuration subset the controller flags use: `720h`, `1h30m`, `10s`, `0`."""
    text = text.strip()
    if text in ("0", ""):
        return dt.timedelta()
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise OptionError(f"{flag}: bad duration {text!r} (use e.g. 720h, 90m or 30s)")
    return dt.timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def parse_cutoff(text: str) -> dt.datetime | None:
    """--key-cutoff-time: RFC1123 with a numeric zone (`date -R`), as upstream."""
    if not text:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise OptionError(f"--key-cutoff-time: {text!r} is not RFC1123 with a numeric zone "
                          "(e.g. 'Mon, 02 Jan 2006 15:04:05 -0700', what `date -R` prints)")
    return parsed


def parse_address(text: str, flag: str) -> tuple[str, int]:
    """Go's listen address `:8080` / `host:port` → (host, port); an empty host means all interfaces."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise OptionError(f"{flag}: {text!r} is not [host]:port")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass(frozen=True)
class Options:
    namespace: str = "kube-system"  # the controller's own namespace: its key Secrets live here
    kubeconfig: str | None = None
    key_prefix: str = "sealed-secrets-key"
    key_size: int = 4096
    key_ttl: dt.timedelta = dt.timedelta(hours=87600)
    my_cn: str = ""
    key_renew_period: dt.timedelta = dt.timedelta(hours=720)
    key_cutoff_time: dt.datetime | None = None
    key_order_priority: str = "CertNotBefore"
    privatekey_labels: dict[str, str] = field(default_factory=dict)
    privatekey_annotations: dict[str, str] = field(default_factory=dict)
    generate_first_key: bool = True
    update_status: bool = True
    skip_recreate: bool = False
    accept_v1_data: bool = True
    all_namespaces: bool = True
    additional_namespaces: tuple[str, ...] = ()
    label_selector: str = ""
    listen_addr: tuple[str, int] = ("0.0.0.0", 8080)
    listen_metrics_addr: tuple[str, int] = ("0.0.0.0", 8081)
    max_unseal_retries: int = 5
    workers: int = 4
    queue_size: int = 10_000

    @property
    def watched_namespaces(self) -> tuple[str, ...] | None:
        """None = cluster-wide; else the namespaces to watch (upstream: its own namespace plus
        --additional-namespaces whenever --all-namespaces=false or additional ones are named)."""
        if self.all_namespaces and not self.additional_namespaces:
            return None
        return tuple(dict.fromkeys((self.namespace, *self.additional_namespaces)))
