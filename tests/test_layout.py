"""The layout's rules, read from the source (no import is run): modules stay small, no
module imports another's ``_private`` names, imports form no cycle (type-only and
function-level imports included), and the engine imports nothing of the UI."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cachetui"
MAX_LINES = 450


@functools.cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


@functools.cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str, int]]:
    """``(module imported, name taken or "", line)`` for every import of a cachetui
    module in ``path``, wherever it stands (top level, function, ``TYPE_CHECKING``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name in known]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("cachetui"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # a submodule: ``from pkg import module``
                    out.append((sub, "", node.lineno))
                else:
                    out.append((base, alias.name, node.lineno))
    return out


def test_no_module_is_over_the_line_limit():
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in modules().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: split them by concept"


def test_no_module_takes_another_modules_private_names():
    known = modules()
    private = [
        f"{name}:{line} takes {target}.{taken}"
        for name, path in known.items()
        for target, taken, line in imports(name, path, known)
        if taken.startswith("_") and not taken.startswith("__")
    ]
    assert private == []


def test_imports_form_no_cycle():
    known = modules()
    graph = {
        name: sorted({t for t, _, _ in imports(name, path, known) if t in known and t != name})
        for name, path in known.items()
    }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name)
    assert cycles == []


def test_the_engine_imports_nothing_outside_itself():
    known = modules()
    outside = [
        f"{name}:{line} imports {target}"
        for name, path in known.items()
        if name.startswith("cachetui.engine")
        for target, _, line in imports(name, path, known)
        if not target.startswith("cachetui.engine")
    ]
    assert outside == []
    # and no UI library, wherever the import stands
    ui = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for name, path in known.items()
        if name.startswith("cachetui.engine")
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for mod in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if mod.split(".")[0] in ("textual", "rich")
    ]
    assert ui == []
