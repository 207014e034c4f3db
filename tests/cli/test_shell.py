"""`kaizen --version` and shell completion (bash and zsh), run as a shell would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest


def test_version(run_cli: Callable[..., Any]) -> None:
    r = run_cli("--version")
    assert (r.code, r.out, r.err) == (0, f"kaizen {version('kaizen')}\n", "")


def kaizen(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env={**os.environ, "COLUMNS": "80", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "#compdef kaizen")])
def test_the_completion_script_is_produced(shell: str, marker: str) -> None:
    """What the README's `eval "$(_KAIZEN_COMPLETE=source_bash kaizen)"` reads."""
    r = kaizen(_KAIZEN_COMPLETE=f"source_{shell}")
    assert r.returncode == 0, r.stderr
    assert marker in r.stdout and f"_KAIZEN_COMPLETE=complete_{shell}" in r.stdout


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("kaizen ca", ["case"]),
        ("kaizen case adv", ["advance"]),
        ("kaizen case advance 40-2026-0001 a", ["apply", "accept", "agree"]),
        ("kaizen case estimate 40-2026-0001 dd", ["dd", "dd_plan"]),
        ("kaizen case list --stage plan", ["planning"]),
    ],
)
def test_bash_completes_commands_and_ids(words: str, expected: list[str]) -> None:
    r = kaizen(
        _KAIZEN_COMPLETE="complete_bash",
        COMP_WORDS=words,
        COMP_CWORD=str(len(words.split()) - 1),
    )
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted(expected)


def test_zsh_completion_shows_the_japanese_label() -> None:
    r = kaizen(
        _KAIZEN_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="kaizen case list --stage plan"
    )
    assert r.returncode == 0, r.stderr
    assert '"planning":"計画策定"' in r.stdout
