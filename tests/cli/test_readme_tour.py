"""The README's five-minute tour runs, line by line, on a fresh database (SQLite).

The block after "## A five-minute tour" is read from README.md itself, so the test follows the
README: `export` lines set the environment, `NAME=value kaizen …` runs one command with that
variable, every other line is one `kaizen` command that must exit 0.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
TOUR_DAY = "2026-11-30T10:00:00+09:00"  # the day the tour's dates were written for


def tour() -> list[str]:
    text = README.read_text("utf-8")
    block = text.split("## A five-minute tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = re.sub(r"\\\n\s*", " ", block).splitlines()
    return [ln.split("  #", 1)[0].strip() for ln in lines if ln.strip()]


def test_the_tour_is_there() -> None:
    lines = tour()
    assert lines[0].startswith("export KAIZEN_DB=") and len(lines) > 20


def test_every_line_of_the_tour_runs(run_cli: Any, tmp_path: Path) -> None:
    examples = README.parent / "docs" / "examples"
    shutil.copytree(examples, tmp_path / "docs" / "examples")
    env: dict[str, str] = {}
    for line in tour():
        words = shlex.split(line)
        if words[0] == "export":
            for w in words[1:]:
                name, value = w.split("=", 1)
                env[name] = value
            continue
        one = dict(env)
        while "=" in words[0]:
            name, value = words.pop(0).split("=", 1)
            one[name] = value
        assert words[0] == "kaizen", line
        db = str(tmp_path / one["KAIZEN_DB"])
        r = run_cli(*words[1:], user=one["KAIZEN_USER"], db=db, now=TOUR_DAY)
        assert r.code == 0, (line, r.err)


def quick_start() -> list[str]:
    block = README.read_text("utf-8").split("## クイックスタート", 1)[1]
    lines = block.split("```bash", 1)[1].split("```", 1)[0].splitlines()
    return [ln.split("  #", 1)[0].strip() for ln in lines if ln.strip()]


@pytest.mark.parametrize("day", ["2026-11-30T10:00:00+09:00", "2028-06-01T10:00:00+09:00"])
def test_the_quick_start_runs_whatever_the_day(run_cli: Any, tmp_path: Path, day: str) -> None:
    """The Japanese quick start names no case whose stage depends on the demo's day."""
    db = str(tmp_path / "kaizen.db")
    for line in quick_start():
        words = shlex.split(line)
        assert words[0] == "kaizen", line
        r = run_cli(*words[1:], user="admin", db=db, now=day)
        assert r.code == 0, (line, r.err)
