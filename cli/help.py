"""`--help` at 80 columns in Japanese: click wraps by characters, a terminal by cells.

click counts a Japanese character as one column and cuts long unspaced Japanese at the
character count, so a help line can be twice as wide as the terminal. This wrapper measures
with rich's cell widths and may break between any two wide characters (never before 、。 or a
closing bracket), which is how Japanese text is wrapped.
"""

from __future__ import annotations

import re
import textwrap

from rich.cells import cell_len

# A run of narrow text (with the punctuation that must stay on its line), one wide character
# (likewise), or white space.
_CHUNK = re.compile(
    r"\s+"
    r"|[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef][、。，．)）」』・]*"
    r"|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+[、。)）」』]*"
)


class CellWrapper(textwrap.TextWrapper):
    """`textwrap.TextWrapper` that measures in terminal cells and breaks Japanese anywhere."""

    def _split(self, text: str) -> list[str]:
        return _CHUNK.findall(text)

    def _wrap_chunks(self, chunks: list[str]) -> list[str]:
        lines: list[str] = []
        chunks = list(reversed(chunks))
        while chunks:
            indent = self.subsequent_indent if lines else self.initial_indent
            width = max(self.width - cell_len(indent), 1)
            if lines and chunks[-1].isspace():
                chunks.pop()
            line: list[str] = []
            used = 0
            while chunks and used + cell_len(chunks[-1]) <= width:
                used += cell_len(chunks[-1])
                line.append(chunks.pop())
            if not line and chunks:  # one chunk wider than the line: cut it by cells
                chunk, cut = chunks.pop(), ""
                for ch in chunk:
                    if cell_len(cut + ch) > width:
                        break
                    cut += ch
                cut = cut or chunk[0]
                line.append(cut)
                chunks.append(chunk[len(cut) :])
            while line and line[-1].isspace():
                line.pop()
            if line:
                lines.append(indent + "".join(line))
        return lines


def install() -> None:
    """Make the help formatter wrap with `CellWrapper`. typer vendors click (`typer._click`)
    and its `wrap_text` imports `TextWrapper` from `_textwrap` on each call, so replacing that
    class is enough; tests/cli/test_japanese_cli.py fails if a typer release moves it."""
    import importlib

    for name in ("typer._click._textwrap", "click._textwrap"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        names = vars(module)
        base = names["TextWrapper"]
        if not issubclass(base, CellWrapper):
            names["TextWrapper"] = type("CellTextWrapper", (CellWrapper, base), {})
