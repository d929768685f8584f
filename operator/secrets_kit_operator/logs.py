"""Structured logging: `--log-format text` (slog-like key=value) or `json`, one line per record.

Callers pass fields with `extra={"fields": {...}}`; fields never hold secret values (names,
namespaces, reasons, fingerprints only).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING, "WARNING": logging.WARNING,
          "ERROR": logging.ERROR}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _now(), "level": record.levelname, "logger": record.name,
                               "msg": record.getMessage()}
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [f"time={_now()}", f"level={record.levelname}", f"msg={json.dumps(record.getMessage())}"]
        for key, value in (getattr(record, "fields", None) or {}).items():
            text = str(value)
            parts.append(f"{key}={json.dumps(text) if (' ' in text or not text) else text}")
        if record.exc_info and record.exc_info[0] is not None:
            parts.append(f"error={json.dumps(f'{record.exc_info[0].__name__}: {record.exc_info[1]}')}")
        return " ".join(parts)


def setup(log_format: str, level: str) -> logging.Logger:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level.upper()])
    # kopf's per-event chatter only at debug; its warnings and errors (watch failures) always show
    logging.getLogger("kopf").setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return logging.getLogger("secrets_kit_operator")
