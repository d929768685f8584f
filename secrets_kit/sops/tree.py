"""The one document tree every SOPS format goes through.

A document is a list of branches (YAML documents; one for the other formats). A branch
is a `Branch`: an ordered list of `(key, value)` pairs where the key is a `str` or a
`Comment`. Values are `Branch`, `list` (which may hold `Comment`s), `str`, `int`,
`float`, `bool`, `Timestamp`, `bytes` or `None`. This mirrors sops's `TreeBranch`, so
the cipher, the MAC and the encryption-selection rules behave the same for every format.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .reasons import Reason


class Comment:
    """A comment line: `value` is the text after `#` (a leading space is kept)."""

    __slots__ = ("inline", "value")

    def __init__(self, value: str, inline: bool = False) -> None:
        self.value = value
        self.inline = inline

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Comment) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("comment", self.value))

    def __repr__(self) -> str:
        return f"Comment({self.value!r}{', inline' if self.inline else ''})"


class Timestamp(str):
    """A YAML timestamp, held as Go's `time.MarshalText` form (RFC 3339 with nanoseconds)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Timestamp({str.__repr__(self)})"


class Branch(list[Any]):
    """An ordered mapping: a list of `(key, value)` tuples (key is `str` or `Comment`)."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self:
            if k == key and not isinstance(k, Comment):
                return v
        return default

    def index_of(self, key: str) -> int:
        for i, (k, _) in enumerate(self):
            if not isinstance(k, Comment) and k == key:
                return i
        return -1

    def keys(self) -> list[str]:
        return [k for k, _ in self if not isinstance(k, Comment)]

    def __repr__(self) -> str:
        return f"Branch({list.__repr__(self)})"


Path = list[str | int]


def tree_equal(a: Any, b: Any) -> bool:
    """Deep equality as sops's `equals` (comments compare by text; types must match)."""
    if isinstance(a, Branch):
        if not isinstance(b, Branch) or len(a) != len(b):
            return False
        return all(tree_equal(ka, kb) and tree_equal(va, vb) for (ka, va), (kb, vb) in zip(a, b, strict=True))
    if isinstance(a, list):
        if not isinstance(b, list) or isinstance(b, Branch) or len(a) != len(b):
            return False
        return all(tree_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(a == b)


def from_plain(value: Any) -> Any:
    """Convert plain Python data (dicts, lists, scalars) into tree values."""
    if isinstance(value, dict):
        return Branch((str(k), from_plain(v)) for k, v in value.items())
    if isinstance(value, list | tuple) and not isinstance(value, Branch):
        return [from_plain(v) for v in value]
    return value


def to_plain(value: Any) -> Any:
    """Convert a tree value into plain Python data (comments dropped)."""
    if isinstance(value, Branch):
        return {k: to_plain(v) for k, v in value if not isinstance(k, Comment)}
    if isinstance(value, list):
        return [to_plain(v) for v in value if not isinstance(v, Comment)]
    if isinstance(value, Timestamp):
        return str(value)
    return value


def _describe(path: Path) -> str:
    return "".join(f'["{p}"]' if isinstance(p, str) else f"[{p}]" for p in path)


def truncate(branch: Branch, path: Path) -> Any:
    """The value at `path` (sops `--extract`)."""
    current: Any = branch
    for i, component in enumerate(path):
        if isinstance(component, str):
            if not isinstance(current, Branch):
                raise InputError(f"component ['{component}'] not found", where=_describe(path[: i + 1]))
            idx = current.index_of(component)
            if idx < 0:
                raise InputError(f"component ['{component}'] not found", where=_describe(path[: i + 1]))
            current = current[idx][1]
        else:
            if not isinstance(current, list) or isinstance(current, Branch):
                raise InputError(f"component [{component}] is integer, but tree part is not a slice",
                                 where=_describe(path[: i + 1]))
            if component >= len(current):
                raise InputError(f"component [{component}] accesses out of bounds", where=_describe(path[: i + 1]))
            current = current[component]
    return current


def _value_from_path(path: Path, leaf: Any) -> Any:
    head = path[0]
    inner = leaf if len(path) == 1 else _value_from_path(path[1:], leaf)
    if isinstance(head, int):
        return [inner]
    return Branch([(head, inner)])


def set_value(container: Any, path: Path, value: Any) -> tuple[Any, bool]:
    """Set `path` to `value` the way sops `set` does; returns (new container, changed)."""
    head = path[0]
    if isinstance(container, Branch):
        if isinstance(head, str):
            idx = container.index_of(head)
            if idx >= 0:
                key, old = container[idx]
                if len(path) == 1:
                    container[idx] = (key, value)
                    return container, not tree_equal(old, value)
                new, changed = set_value(old, path[1:], value)
                container[idx] = (key, new)
                return container, changed
        new_value = _value_from_path(path, value)
        if isinstance(new_value, Branch) and new_value:
            container.append(new_value[0])
        return container, True
    if isinstance(container, list) and isinstance(head, int):
        if len(path) == 1:
            if head >= len(container):
                container.append(value)
                return container, True
            changed = not tree_equal(container[head], value)
            container[head] = value
            return container, changed
        if head >= len(container):
            container.append(_value_from_path(path[1:], value))
            return container, True
        new, changed = set_value(container[head], path[1:], value)
        container[head] = new
        return container, changed
    new_value = _value_from_path(path, value)
    return new_value, not tree_equal(container, new_value)


class KeyNotFound(InputError):
    """`unset` of a path that does not exist."""

    reason = Reason.KEY_NOT_FOUND


def unset_value(container: Any, path: Path) -> Any:
    head = path[0]
    if isinstance(container, Branch):
        idx = container.index_of(head) if isinstance(head, str) else -1
        if idx < 0:
            raise KeyNotFound(f"Key not found: {head}")
        if len(path) == 1:
            del container[idx]
        else:
            key, old = container[idx]
            container[idx] = (key, unset_value(old, path[1:]))
        return container
    if isinstance(container, list):
        if not isinstance(head, int) or head >= len(container):
            raise KeyNotFound(f"Index {head} out of bounds")
        if len(path) == 1:
            del container[head]
        else:
            container[head] = unset_value(container[head], path[1:])
        return container
    raise InputError(f"Unsupported type: {type(container).__name__} for item '{head}'")


def parse_tree_path(text: str) -> Path:
    """sops's index syntax: `["key"][0]['other']` (quoted = key, bare number = index)."""
    path: Path = []
    for component in text.split("["):
        if component == "":
            continue
        if not component.endswith("]"):
            raise InputError(f"component {component} doesn't end with ]")
        component = component[:-1]
        if component[:1] in ('"', "'"):
            path.append(component[1:-1])
        else:
            try:
                path.append(int(component))
            except ValueError:
                raise InputError(f'strconv.Atoi: parsing "{component}": invalid syntax') from None
    return path
