"""The shape of the code: imports run one way (no cycles, counting imports inside functions)
and only ``storage/`` talks SQL."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "dialogs", "storage", "templates")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic's scripts, run by Alembic only
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Every module ``path`` imports, at the top or inside functions (not under
    TYPE_CHECKING). ``from package import name`` imports the submodule ``package.name`` when
    there is one (``known``), else the package itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []  # only for type checkers; never runs
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append(submodule if submodule in known else node.module)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = {t for t in imports(path, set(known)) if t in known and t != name}
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[str]:
    found = []
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                found.append(" → ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_only_storage_imports_sqlalchemy():
    offenders = sorted(
        name
        for name, path in modules().items()
        if not name.startswith("storage")
        and any(t.split(".")[0] in ("sqlalchemy", "sqlmodel", "alembic") for t in imports(path))
    )
    assert offenders == []


def test_the_checks_can_fail(tmp_path):
    """Two modules importing each other inside functions are a cycle."""
    package = tmp_path / "dialogs"
    package.mkdir()
    (package / "a.py").write_text("def f():\n    from dialogs import b\n")
    (package / "b.py").write_text("def g():\n    import dialogs.a\n")
    known = {"dialogs.a", "dialogs.b"}
    assert "dialogs.b" in imports(package / "a.py", known)
    assert "dialogs.a" in imports(package / "b.py", known)
    assert cycles({"dialogs.a": {"dialogs.b"}, "dialogs.b": {"dialogs.a"}}) == [
        "dialogs.a → dialogs.b → dialogs.a"
    ]
