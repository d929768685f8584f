"""Which values sops encrypts: the suffix, regex and comment-regex selection rules.

At most one rule is set per file (sops's `shouldBeEncrypted`). Path components are map
keys only (list indices are not), and a regex is an unanchored search on one component,
as Go's `regexp.Match` does. Regexes are compiled once per file.
"""

from __future__ import annotations

import re

from ..errors import ConfigError

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
_NEVER = re.compile(r"(?!)")  # matches nothing

RULE_FIELDS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
               "unencrypted_comment_regex", "encrypted_comment_regex")


def compile_go_regex(pattern: str, field: str) -> re.Pattern[str]:
    """Compile a Go RE2 pattern with Python's `re` (the common syntax is shared)."""
    translated = pattern
    # RE2 spells named groups (?P<name>...) like Python, and also (?<name>...) since Go 1.22.
    translated = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", translated)
    try:
        return re.compile(translated)
    except re.error as exc:
        raise ConfigError(f"invalid {field} {pattern!r}: {exc}", hint="use RE2/Go regular expression syntax") from None


class SelectionRules:
    """The six mutually exclusive options (at most one set)."""

    __slots__ = RULE_FIELDS

    def __init__(self, unencrypted_suffix: str = "", encrypted_suffix: str = "", unencrypted_regex: str = "",
                 encrypted_regex: str = "", unencrypted_comment_regex: str = "",
                 encrypted_comment_regex: str = "") -> None:
        self.unencrypted_suffix = unencrypted_suffix
        self.encrypted_suffix = encrypted_suffix
        self.unencrypted_regex = unencrypted_regex
        self.encrypted_regex = encrypted_regex
        self.unencrypted_comment_regex = unencrypted_comment_regex
        self.encrypted_comment_regex = encrypted_comment_regex

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SelectionRules) and all(getattr(self, f) == getattr(other, f) for f in RULE_FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in RULE_FIELDS))

    def __repr__(self) -> str:
        return "SelectionRules(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in RULE_FIELDS if getattr(self, f)) + ")"

    def active(self) -> list[str]:
        return [f for f in RULE_FIELDS if getattr(self, f)]

    def validate(self, where: str | None = None, reason: str | None = None) -> None:
        if len(self.active()) > 1:
            raise ConfigError(
                "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, "
                "unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file",
                where=where, reason=reason)

    def with_default(self) -> SelectionRules:
        if not self.active():
            return SelectionRules(unencrypted_suffix=DEFAULT_UNENCRYPTED_SUFFIX)
        return self

    def compile(self, from_metadata: bool = False) -> CompiledRules:
        """`from_metadata`: the rules come from a file's metadata, where sops ignores a pattern's
        compile error (`matched, _ := regexp.Match(...)`): such a pattern matches nothing."""
        return CompiledRules(self, from_metadata)


class CompiledRules:
    """The rules ready for the tree walk.

    For path rules, `matches(key)` is the per-component predicate and `encrypt_if_match`
    says whether a match anywhere on the path means "encrypt" (encrypted_*) or "leave
    in clear" (unencrypted_*). Comment rules look at the stack of preceding comments.
    """

    __slots__ = ("_cache", "comment_regex", "encrypt_if_match", "kind", "path_regex", "suffix")

    def __init__(self, rules: SelectionRules, from_metadata: bool = False) -> None:
        active = rules.active()
        self.kind = active[0] if active else ""
        self.suffix = ""
        self.path_regex: re.Pattern[str] | None = None
        self.comment_regex: re.Pattern[str] | None = None
        self.encrypt_if_match = self.kind.startswith("encrypted")
        self._cache: dict[str, bool] = {}
        value = getattr(rules, self.kind) if self.kind else ""
        if self.kind.endswith("_suffix"):
            self.suffix = value
        elif self.kind.endswith("_regex"):
            try:
                pattern = compile_go_regex(value, self.kind)
            except ConfigError:
                if not from_metadata:
                    raise
                pattern = _NEVER
            if self.kind.endswith("_comment_regex"):
                self.comment_regex = pattern
            else:
                self.path_regex = pattern

    def key_matches(self, key: str) -> bool:
        """Does this path component trigger the (path) rule?"""
        hit = self._cache.get(key)
        if hit is None:
            if self.suffix:
                hit = key.endswith(self.suffix)
            elif self.path_regex is not None:
                hit = self.path_regex.search(key) is not None
            else:
                hit = False
            self._cache[key] = hit
        return hit

    def encrypted_for_comments(self, stack: list[list[str]], is_comment: bool) -> bool:
        """Comment rules: sops's comment-stack logic."""
        regex = self.comment_regex
        assert regex is not None
        if not self.encrypt_if_match:
            return not any(regex.search(c) for level in stack for c in level)
        last_level = len(stack) - 1
        last_index = len(stack[-1]) - 1 if stack else -1
        for i, level in enumerate(stack):
            for j, c in enumerate(level):
                # The matching comment line itself stays in clear.
                if is_comment and i == last_level and j == last_index:
                    continue
                if regex.search(c):
                    return True
        return False
