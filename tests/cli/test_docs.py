"""Every command documents itself (after sqlite-utils' test_docs): help text and an example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

import cli.app
import cli.commands  # registers the commands

README = Path(__file__).resolve().parents[2] / "README.md"


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


ROOT = typer.main.get_command(cli.app.app)
ALL = list(_walk(ROOT))
COMMANDS = [(p, c) for p, c in ALL if p]
LEAVES = [(p, c) for p, c in COMMANDS if not getattr(c, "commands", None)]
TOP = sorted(getattr(ROOT, "commands", {}))


def _id(x: Any) -> str:
    return " ".join(x) if isinstance(x, tuple) else ""


def test_the_tree_is_found() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"plan", "diagram", "rules", "rules show"} <= names


@pytest.mark.parametrize(("path", "cmd"), ALL, ids=[_id(p) or "kaizen" for p, _ in ALL])
def test_every_command_has_help(path: tuple[str, ...], cmd: Any) -> None:
    assert (cmd.help or "").strip(), f"kaizen {' '.join(path)} has no help text"
    short = cmd.get_short_help_str(limit=200)
    assert short.strip(), f"kaizen {' '.join(path)} has no short help"


@pytest.mark.parametrize(("path", "cmd"), LEAVES, ids=[_id(p) for p, _ in LEAVES])
def test_every_leaf_command_has_an_example(path: tuple[str, ...], cmd: Any) -> None:
    lines = [line.strip() for line in (cmd.help or "").splitlines()]
    examples = [line for line in lines if line.startswith("Example:")]
    assert examples, f"kaizen {' '.join(path)}: no 'Example:' line in its help"
    for line in examples:
        assert "kaizen " + " ".join(path) in line, line


def _readme_is_written() -> bool:
    return README.exists() and len(README.read_text("utf-8").strip().splitlines()) > 1


@pytest.mark.xfail(not _readme_is_written(), reason="README written by lead", strict=False)
@pytest.mark.parametrize("name", TOP)
def test_readme_mentions_every_command(name: str) -> None:
    assert f"kaizen {name}" in README.read_text("utf-8")
