"""Reading the Prometheus rules file without Prometheus: the rules, and the metric names an expression reads.

promtool is not a test peer here (its cold build is over the budget), so the checks promtool would make
that matter most are made with a small PromQL tokenizer: brackets balance, label matchers are well formed,
durations parse, and every identifier that is not a function, keyword or label name is a metric name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "operator" / "chart" / "secrets-kit" / "files" / "prometheus-rules.yaml"
UNIT_TESTS = Path(__file__).with_name("prometheus-rules.test.yaml")
DASHBOARD = REPO / "docs" / "grafana" / "secrets-kit-dashboard.json"

# PromQL's functions and aggregation operators that the rules may use
FUNCTIONS = {"absent", "changes", "increase", "rate", "irate", "delta", "max", "min", "sum", "avg", "count",
             "max_over_time", "min_over_time", "time", "timestamp", "clamp_min", "clamp_max", "label_replace",
             "vector"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}
# Prometheus's own synthetic series (the scrape's health), exported by no program
SYNTHETIC = {"up"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
MATCHER = re.compile(r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*$')


def load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text())


def alert_rules(path: Path = RULES) -> list[dict[str, Any]]:
    doc = load_yaml(path)
    assert isinstance(doc, dict) and list(doc) == ["groups"], f"{path}: a rules file has only `groups:`"
    rules: list[dict[str, Any]] = []
    for group in doc["groups"]:
        assert set(group) <= {"name", "rules", "interval"} and group.get("name"), group
        rules += group["rules"]
    return rules


def tokens(expr: str) -> list[str]:
    """Identifiers, strings, numbers, brackets and operators, in order; raises ValueError on a bad char."""
    out: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == '"':
            end = i + 1
            while end < len(expr) and expr[end] != '"':
                end += 2 if expr[end] == "\\" else 1
            if end >= len(expr):
                raise ValueError(f"unterminated string in {expr!r}")
            out.append(expr[i:end + 1])
            i = end + 1
        elif c.isalpha() or c == "_" or c == ":":
            m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr[i:])
            assert m is not None
            out.append(m.group())
            i += len(m.group())
        elif c.isdigit():
            m = re.match(r"\d+(\.\d+)?([a-z]+)?", expr[i:])
            assert m is not None
            out.append(m.group())
            i += len(m.group())
        elif expr.startswith(("==", "!=", ">=", "<=", "=~", "!~"), i):
            out.append(expr[i:i + 2])
            i += 2
        elif c in "(){}[],=<>+-*/%^":
            out.append(c)
            i += 1
        else:
            raise ValueError(f"unexpected {c!r} in {expr!r}")
    return out


def check_expression(expr: str) -> set[str]:
    """Validate the shapes promtool would reject first; return the metric names the expression reads."""
    toks = tokens(expr)
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for t in toks:
        if t in "({[":
            stack.append(t)
        elif t in ")}]" and (not stack or stack.pop() != pairs[t]):
            raise ValueError(f"unbalanced {t!r} in {expr!r}")
    if stack:
        raise ValueError(f"unclosed {stack[-1]!r} in {expr!r}")
    for body in re.findall(r"\{([^}]*)\}", expr):
        for matcher in filter(str.strip, body.split(",")):
            if not MATCHER.match(matcher):
                raise ValueError(f"bad label matcher {matcher!r} in {expr!r}")
    for duration in re.findall(r"\[([^\]]*)\]", expr) + re.findall(r"offset\s+(\S+)", expr):
        if not DURATION.match(duration.strip()):
            raise ValueError(f"bad duration {duration!r} in {expr!r}")
    names: set[str] = set()
    depth_brace, after_grouping = 0, False
    for index, t in enumerate(toks):
        if t == "{":
            depth_brace += 1
        elif t == "}":
            depth_brace -= 1
        elif t in ("by", "without", "on", "ignoring", "group_left", "group_right"):
            after_grouping = True  # the next (...) lists label names
            continue
        elif t == ")" and after_grouping:
            after_grouping = False
        if depth_brace or after_grouping or not re.match(r"[a-zA-Z_:]", t) or t in KEYWORDS:
            continue
        following = toks[index + 1] if index + 1 < len(toks) else ""
        if t in FUNCTIONS and following in ("(", "by", "without"):
            continue
        if index and toks[index - 1] == "offset":
            continue
        names.add(t)
    return names


def metric_names() -> dict[str, set[str]]:
    """alert name -> the metric names its expression reads."""
    return {rule["alert"]: check_expression(rule["expr"]) for rule in alert_rules()}


def dashboard_metric_names() -> dict[str, set[str]]:
    """panel title -> the metric names its queries read."""
    import json

    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {p["title"]: set().union(*(check_expression(t["expr"]) for t in p["targets"])) for p in panels}


def exported_names(exposition: str) -> set[str]:
    """Metric names in a /metrics text: sample names, and the names of families declared by TYPE lines
    (a family can be declared before it has a series)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
