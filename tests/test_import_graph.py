"""The import graph of ``edgekit/``: layering rules checked on the source.

Every module of ``edgekit/`` is parsed with :mod:`ast`; every import counts,
including those inside functions (a function-level import is a dependency
as well, only a later one).  The rules:

(a) no cycle between the parts of edgekit: each top-level subpackage
    (``edgekit.models``, ``edgekit.quantize``, ...) and each top-level
    module (``edgekit.pipeline``, ...) is one node;
(b) ``edgekit.models`` imports neither ``edgekit.quantize`` nor
    ``edgekit.firmware_export`` nor ``edgekit.emulator`` (models are Keras
    architectures; int8, C and emulation come after them);
(c) no module imports a ``_private`` name (or ``_private`` module) of
    another module: make it public or move it.  Dunder names
    (``__version__``) are fine.

Known offenders in files other helpers of issue 11 are moving are listed in
the allow-lists below, each with its owner; the lead removes an entry when
that file is fixed, and a listed entry that no longer occurs fails the test
(so the lists only shrink).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "edgekit"

#: models/ may not import these.
MODELS_FORBIDDEN = ("edgekit.quantize", "edgekit.firmware_export", "edgekit.emulator")

#: Exceptions to the rules.  Empty: every module keeps them.  (An entry that
#: no longer occurs fails the test, so the lists can only shrink.)
MODELS_ALLOWED: set[tuple[str, str]] = set()
PRIVATE_ALLOWED: set[tuple[str, str]] = set()
CYCLE_IMPORTS_ALLOWED: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of a ``from ... import`` (relative ones resolved)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mods: dict[str, Path]) -> list[tuple[str, str, str | None, int]]:
    """``(importer, imported module, imported name or None, line)`` for every import."""
    out = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    out.append((name, alias.name, None, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                target = resolve(name, is_package, node)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in mods:     # `from pkg import module`: the module is imported
                        out.append((name, sub, None, node.lineno))
                    else:
                        out.append((name, target, alias.name, node.lineno))
    return out


def node_of(module: str) -> str | None:
    """``edgekit.X`` for any module under ``edgekit.X`` (None outside edgekit or for edgekit)."""
    parts = module.split(".")
    if parts[0] != "edgekit" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


@pytest.fixture(scope="module")
def graph():
    mods = modules()
    assert len(mods) > 20, "edgekit/ modules not found"
    return mods, imports(mods)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` (as a node list, first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_cycle_between_subpackages(graph):
    _, imps = graph
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], list[str]] = {}
    for importer, target, _, line in imps:
        a, b = node_of(importer), node_of(target)
        if a is None or b is None or a == b or (importer, target) in CYCLE_IMPORTS_ALLOWED:
            continue
        edges.setdefault(a, set()).add(b)
        where.setdefault((a, b), []).append(f"{importer}:{line} -> {target}")
    cycle = find_cycle(edges)
    if cycle:
        detail = "\n".join(f"  {a} -> {b}: {', '.join(where[(a, b)][:3])}"
                           for a, b in zip(cycle, cycle[1:]))
        pytest.fail(f"import cycle {' -> '.join(cycle)}\n{detail}")
    seen = {(i, t) for i, t, _, _ in imps}
    assert CYCLE_IMPORTS_ALLOWED <= seen, \
        f"fixed, remove from CYCLE_IMPORTS_ALLOWED: {CYCLE_IMPORTS_ALLOWED - seen}"


def test_models_do_not_import_quantize_firmware_export_emulator(graph):
    _, imps = graph
    bad, seen = [], set()
    for importer, target, _, line in imps:
        if not (importer == "edgekit.models" or importer.startswith("edgekit.models.")):
            continue
        if any(target == f or target.startswith(f + ".") for f in MODELS_FORBIDDEN):
            seen.add((importer, target))
            if (importer, target) not in MODELS_ALLOWED:
                bad.append(f"{importer}:{line} imports {target}")
    assert not bad, "\n".join(bad)
    assert MODELS_ALLOWED <= seen, f"fixed, remove from MODELS_ALLOWED: {MODELS_ALLOWED - seen}"


def test_no_private_name_imported_from_another_module(graph):
    mods, imps = graph
    bad, seen = [], set()
    for importer, target, name, line in imps:
        if not target.startswith("edgekit"):
            continue   # third-party privates are their business
        private = [p for p in target.split(".") if is_private(p)]
        if name is not None and is_private(name):
            private.append(name)
        if not private:
            continue
        key = (importer, f"{target}.{name}" if name else target)
        seen.add(key)
        if key not in PRIVATE_ALLOWED:
            bad.append(f"{importer}:{line} imports {key[1]}")
    assert not bad, "\n".join(bad)
    assert PRIVATE_ALLOWED <= seen, f"fixed, remove from PRIVATE_ALLOWED: {PRIVATE_ALLOWED - seen}"


def test_checker_sees_function_level_and_relative_imports():
    """The parser counts imports inside functions and resolves relative ones."""
    src = "def f():\n    from edgekit.quantize import _x\n    from .b import c\n"
    tree = ast.parse(src)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.append((resolve("edgekit.models.a", False, node), node.names[0].name))
    assert found == [("edgekit.quantize", "_x"), ("edgekit.models.b", "c")]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None
    assert is_private("_x") and not is_private("__version__") and not is_private("x")
