"""The rooms of design.md hold: arrows only point down (states ← storage ← workflow ← cli).

The same rules as the import-linter contracts in pyproject.toml (`lint-imports` in .ci/run),
checked here with the AST so that `pytest` alone catches a stray import. Every import counts:
at the top, inside a function (lazy), under `if TYPE_CHECKING:`, and a module named by a
constant string to `importlib.import_module`, `__import__` or `sys.modules[...]`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("states", "storage", "workflow", "cli")
FORBIDDEN: dict[str, frozenset[str]] = {
    "states": frozenset({"storage", "workflow", "cli"}),
    "storage": frozenset({"workflow", "cli"}),
    "workflow": frozenset({"cli"}),
    "cli": frozenset({"storage"}),
}


def imported(tree: ast.AST, module: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every module the code imports or names for a dynamic import."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            elif node.module:
                yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args:
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                yield node.lineno, str(arg.value)
        elif isinstance(node, ast.Subscript):
            v, key = node.value, node.slice
            if (
                isinstance(v, ast.Attribute)
                and v.attr == "modules"
                and isinstance(key, ast.Constant)
                and isinstance(key.value, str)
            ):
                yield node.lineno, key.value


def violations(source: str, module: str) -> list[str]:
    room = module.split(".")[0]
    banned = FORBIDDEN.get(room, frozenset())
    return [
        f"{module}:{line} imports {name}"
        for line, name in imported(ast.parse(source), module)
        if name.split(".")[0] in banned
    ]


def modules() -> list[tuple[str, Path]]:
    out = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            out.append((".".join(rel.parts), path))
    return out


def test_every_room_has_modules() -> None:
    found = {m.split(".")[0] for m, _ in modules()}
    assert found == set(ROOMS)
    assert len(modules()) > 40


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_module_stays_in_its_room(module: str, path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), module) == []


@pytest.mark.parametrize(
    ("module", "source", "found"),
    [
        ("states.money", "import storage.db", ["states.money:1 imports storage.db"]),
        (
            "storage.db",
            "def f():\n    from workflow import errors",
            ["storage.db:2 imports workflow"],
        ),
        (
            "workflow.x",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cli.app import Ctx",
            ["workflow.x:3 imports cli.app"],
        ),
        (
            "cli.app",
            "import sys\nsys.modules['storage.db'].dispose_all()",
            ["cli.app:2 imports storage.db"],
        ),
        (
            "cli.app",
            "import importlib\nimportlib.import_module('storage')",
            ["cli.app:2 imports storage"],
        ),
        ("cli.reports", "from ..storage import db", ["cli.reports:1 imports storage"]),
        ("cli.reports", "from workflow import reports\nimport states.programs", []),
        ("storage.queries.reports", "from states.programs import catalog", []),
        ("workflow.reports", "from storage.queries import reports", []),
    ],
)
def test_the_checker_sees_every_kind_of_import(module: str, source: str, found: list[str]) -> None:
    assert violations(source, module) == found
