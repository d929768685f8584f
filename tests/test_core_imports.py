"""The core's import graph, computed from the source: no circle, no arrow to a front door or its frameworks.

Every `import` and `from ... import` in `secrets_kit/` counts, also those inside functions
(a lazy import is still a dependency) and under `if TYPE_CHECKING:`. Relative imports are
resolved to the module they name (`from ..sealed import keys` is `secrets_kit.sealed.keys`
when that is a module, else the package). The core's one import style is relative: an
absolute `secrets_kit...` import inside the core is refused too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "secrets_kit"
FORBIDDEN = ("secrets_kit_cli", "secrets_kit_operator", "kopf", "click", "rich")


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported module, line, written as absolute secrets_kit import) for every import in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, alias.name.split(".")[0] == "secrets_kit") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            absolute = node.level == 0 and target.split(".")[0] == "secrets_kit"
            for alias in node.names:  # `from pkg import module` depends on the module itself
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in known else target, node.lineno, absolute))
    return found


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    external: list[str] = []
    for name, path in known.items():
        for target, line, absolute in _imports(name, path, known):
            where = f"{path.relative_to(CORE.parent)}:{line}"
            if target.split(".")[0] in FORBIDDEN:
                external.append(f"{where} imports {target}")
            if absolute:
                external.append(f"{where} imports {target} absolutely (the core imports itself relatively)")
            while target and target not in known:  # `from .x import name`: name is not a module
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph, external


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_core_has_no_import_circle() -> None:
    graph, _ = _graph()
    assert _cycles(graph) == []


def test_the_core_imports_no_front_door_and_only_relatively() -> None:
    _, bad = _graph()
    assert bad == []


def test_the_checks_see_a_circle_and_a_front_door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph code itself: a planted circle and a planted click import are both found."""
    core = tmp_path / "secrets_kit"
    (core / "a").mkdir(parents=True)
    (core / "__init__.py").write_text("")
    (core / "a" / "__init__.py").write_text("")
    (core / "a" / "x.py").write_text("from . import y\n")
    (core / "a" / "y.py").write_text("def f():\n    from .x import g\n")
    (core / "z.py").write_text("import click\nfrom secrets_kit.a import x\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["CORE"]), "CORE", core)
    graph, bad = _graph()
    assert _cycles(graph) == [["secrets_kit.a.x", "secrets_kit.a.y"]]
    assert bad == ["secrets_kit/z.py:1 imports click",
                   "secrets_kit/z.py:2 imports secrets_kit.a.x absolutely (the core imports itself relatively)"]
