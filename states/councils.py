"""The seed councils (rules.md §6) and reading council lists from CSV or TOML files."""

from __future__ import annotations

import csv
import io
import tomllib
from importlib import resources
from pathlib import Path

FIELDS = ("code", "name", "address", "phone", "url")


class CouncilFileError(ValueError):
    """A council file that cannot be read; the message names the row."""


def seed_councils() -> list[dict[str, str]]:
    raw = tomllib.loads(resources.files("states").joinpath("data/councils.toml").read_text("utf-8"))
    return [{k: str(c.get(k, "")) for k in FIELDS} for c in raw["councils"]]


def read_council_file(path: Path) -> list[dict[str, str]]:
    """CSV (header code,name,address,phone,url; UTF-8 with or without BOM) or TOML."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CouncilFileError(f"ファイルを読めません: {path} ({e.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CouncilFileError(f"{path}: UTF-8 で保存してください") from None
    if path.suffix.lower() == ".toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise CouncilFileError(f"{path}: {e}") from None
        return [{k: str(c.get(k, "")) for k in FIELDS} for c in raw.get("councils", [])]
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise CouncilFileError(f"{path}: 行がありません (見出し: {','.join(FIELDS)})")
    missing = {"code", "name"} - set(rows[0])
    if missing:
        raise CouncilFileError(f"{path}: 見出しに {', '.join(sorted(missing))} がありません")
    return [{k: (r.get(k) or "").strip() for k in FIELDS} for r in rows]
