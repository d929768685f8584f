"""Resource limits for untrusted input, in one place.

Every parser (manifests, the fast YAML path, sops stores and metadata, KRM input, keys and
certificates, Go templates) checks what it reads against these limits, so hostile input ends
in a `LimitExceeded` (exit 3) instead of a hang, a memory blow-up or a RecursionError. The
defaults sit far above what a real repository holds; each one can be raised with an
environment setting, `SECRETS_KIT_LIMIT_<NAME>=N` (e.g. `SECRETS_KIT_LIMIT_DEPTH=500`), which
the error names. The operator reads the same settings for objects read from a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from .errors import InputError

ENV_PREFIX = "SECRETS_KIT_LIMIT_"


class Limit:
    # A plain class: this module is on every start-up path; a NamedTuple costs ~0.1 ms to create (and,
    # with string annotations, a ForwardRef: see EVALUATED_ANNOTATIONS in tests/sealed/test_import_budget.py).
    __slots__ = ("default", "name", "what")

    def __init__(self, name: str, default: int, what: str) -> None:
        self.name = name
        self.default = default
        self.what = what  # what is counted, for the message

    def __repr__(self) -> str:
        return f"Limit({self.name!r}, {self.default!r}, {self.what!r})"

    @property
    def setting(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def value(self) -> int:
        """The limit in force: the environment setting when it is a positive integer, else the default."""
        raw = os.environ.get(self.setting, "")
        if raw.isascii() and raw.isdigit() and 0 < len(raw) < 19:
            return int(raw)
        return self.default


# Defaults: 64 MiB files; 100 levels (the deepest real manifests, CRD schemas, reach ~30; recursive walks
# of a deeper tree would meet Python's stack limit);
# a million nodes per file with aliases expanded (a large Helm output holds ~100,000).
BYTES = Limit("bytes", 64 << 20, "bytes")
DEPTH = Limit("depth", 100, "levels of nesting")
NODES = Limit("nodes", 1_000_000, "values (aliases expanded)")
DOCUMENTS = Limit("documents", 100_000, "documents")
CERTIFICATES = Limit("certificates", 1_000, "certificates")
DIGITS = Limit("digits", 4_000, "digits in a number")
TEMPLATE_OUTPUT = Limit("template_output", 16 << 20, "bytes of template output")
TEMPLATE_LOOP = Limit("template_loop", 1_000_000, "loop iterations")
TEMPLATE_WIDTH = Limit("template_width", 1 << 20, "characters of printf width, indent or repeat")

ALL = (BYTES, DEPTH, NODES, DOCUMENTS, CERTIFICATES, DIGITS, TEMPLATE_OUTPUT, TEMPLATE_LOOP, TEMPLATE_WIDTH)


class LimitExceeded(InputError):
    """Input beyond a resource limit: names the file, the limit and the setting that raises it."""

    def __init__(self, limit: Limit, *, where: str | None = None, seen: int | None = None) -> None:
        super().__init__(describe(limit, seen), where=where, hint=hint(limit))
        self.limit = limit


def describe(limit: Limit, seen: int | None = None) -> str:
    amount = f"more than {limit.value:,}" if seen is None else f"{seen:,} (limit {limit.value:,})"
    return f"input exceeds the {limit.name} limit: {amount} {limit.what}"


def hint(limit: Limit) -> str:
    return f"raise it with {limit.setting}=N if the input is trusted"


def exceeds(limit: Limit, amount: int) -> str | None:
    """The message (with its hint) when `amount` is over `limit`, for errors of other types (templates)."""
    if amount <= limit.value:
        return None
    return f"{describe(limit, amount)} ({hint(limit)})"


def check(limit: Limit, amount: int, where: str | None = None) -> None:
    """Refuse `amount` when it is over `limit`."""
    if amount > limit.value:
        raise LimitExceeded(limit, where=where, seen=amount)


def check_size(data: bytes | str, where: str | None = None) -> None:
    check(BYTES, len(data), where)


def check_tree(value: Any, where: str | None = None, budget: int | None = None) -> int:
    """Depth and node count of a parsed value, walked without recursion; returns the count.

    Shared containers (YAML aliases) count once per reference: that is the size every later
    recursive walk (emitting, flattening, templating) will see. Tuples are the (key, value)
    pairs of a sops branch: no level of their own. `budget`: the nodes still allowed."""
    max_depth, max_nodes = DEPTH.value, NODES.value if budget is None else budget
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, extend = stack.pop, stack.extend
    while stack:
        node, depth = pop()
        nodes += 1
        if nodes > max_nodes:
            raise LimitExceeded(NODES, where=where)
        if node.__class__ is str:  # the most common node, checked first (a sops file of 1,000 values: ~2,000)
            continue
        if isinstance(node, dict):
            if depth > max_depth:
                raise LimitExceeded(DEPTH, where=where)
            extend([(v, depth + 1) for v in node.values()])
        elif isinstance(node, list):
            if depth > max_depth:
                raise LimitExceeded(DEPTH, where=where)
            extend([(v, depth + 1) for v in node])
        elif isinstance(node, tuple):
            extend([(v, depth) for v in node])
    return nodes


def check_documents(docs: list[Any], where: str | None = None) -> None:
    check(DOCUMENTS, len(docs), where)
    budget = NODES.value
    for doc in docs:
        budget -= check_tree(doc, where, budget)


def depth_error(where: str | None = None) -> LimitExceeded:
    """A RecursionError of a parser, reported as what it is."""
    return LimitExceeded(DEPTH, where=where)


def settings() -> Iterator[tuple[str, int, int]]:
    """(setting, default, value in force) of every limit, for docs and `--help`."""
    for limit in ALL:
        yield limit.setting, limit.default, limit.value
