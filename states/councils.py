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
        return _toml_councils(path, raw)
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    if not rows:
        raise CouncilFileError(f"{path}: 行がありません (見出し: {','.join(FIELDS)})")
    header = [h for h in (reader.fieldnames or []) if h is not None]
    missing = {"code", "name"} - set(header)
    if missing:
        raise CouncilFileError(f"{path}: 見出しに {', '.join(sorted(missing))} がありません")
    unknown = [h for h in header if h not in FIELDS]
    if unknown:
        raise CouncilFileError(f"{path}: 不明な見出し {', '.join(unknown)} ({','.join(FIELDS)})")
    for n, r in enumerate(rows, 2):
        if None in r:  # more cells than headers
            raise CouncilFileError(f"{path}: {n}行目の項目が見出しより多すぎます")
    return [{k: (r.get(k) or "").strip() for k in FIELDS} for r in rows]


def _toml_councils(path: Path, raw: dict[str, object]) -> list[dict[str, str]]:
    """`[[councils]]` tables with string values of the known keys only."""
    unknown_top = sorted(set(raw) - {"councils"})
    if unknown_top:
        raise CouncilFileError(f"{path}: 不明な項目 {', '.join(unknown_top)} ([[councils]] だけ)")
    entries = raw.get("councils", [])
    if not isinstance(entries, list):
        raise CouncilFileError(f"{path}: councils は [[councils]] の表の並びで書いてください")
    out = []
    for i, c in enumerate(entries, 1):
        if not isinstance(c, dict):
            raise CouncilFileError(f"{path}: councils の {i}番目が表ではありません: {c!r}")
        unknown = sorted(set(c) - set(FIELDS))
        if unknown:
            raise CouncilFileError(f"{path}: councils の {i}番目に不明な項目 {', '.join(unknown)}")
        bad = [k for k, v in c.items() if not isinstance(v, str)]
        if bad:
            raise CouncilFileError(
                f"{path}: councils の {i}番目の {', '.join(bad)} は文字列で書いてください"
            )
        out.append({k: str(c.get(k, "")) for k in FIELDS})
    return out
