"""`kaizen council import FILE`: a CSV or TOML file is read whole, or refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from states.councils import CouncilFileError, read_council_file

GOOD_CSV = (
    "code,name,address,phone,url\n47,沖縄県中小企業活性化協議会,那覇市,098-000-0000,https://x\n"
)
GOOD_TOML = '[[councils]]\ncode = "47"\nname = "沖縄県中小企業活性化協議会"\n'


@pytest.mark.parametrize(("name", "text"), [("c.csv", GOOD_CSV), ("c.toml", GOOD_TOML)])
def test_a_good_file_is_read(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, "utf-8")
    [row] = read_council_file(tmp_path / name)
    assert (row["code"], row["name"]) == ("47", "沖縄県中小企業活性化協議会")


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("c.toml", "councils = [1]\n", "1番目が表ではありません"),
        ("c.toml", '[councils]\ncode = "47"\n', "[[councils]] の表の並び"),
        ("c.toml", '[[councils]]\ncode = 47\nname = "x"\n', "code は文字列"),
        ("c.toml", '[[councils]]\ncode = "47"\nname = "x"\nfax = "1"\n', "不明な項目 fax"),
        ("c.toml", 'title = "x"\n[[councils]]\ncode = "47"\nname = "x"\n', "不明な項目 title"),
        ("c.toml", "[[councils\n", "c.toml"),
        ("c.csv", "code,name,fax\n47,x,1\n", "不明な見出し fax"),
        ("c.csv", "code,address\n47,x\n", "name がありません"),
        ("c.csv", "code,name\n47,x,extra\n", "2行目の項目が見出しより多すぎます"),
        ("c.csv", "code,name\n", "行がありません"),
    ],
)
def test_a_bad_file_is_refused_in_one_line(tmp_path: Path, name: str, text: str, says: str) -> None:
    (tmp_path / name).write_text(text, "utf-8")
    with pytest.raises(CouncilFileError) as e:
        read_council_file(tmp_path / name)
    assert says in str(e.value) and "\n" not in str(e.value)
