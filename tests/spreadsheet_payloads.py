"""Texts a spreadsheet would run as a formula (OWASP CSV injection), and how a formula-safe export must hold them."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

# Each one must come out with a leading single quote; the last one starts with a quote already.
FORMULA_PAYLOADS = (
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "'quoted",
)
# Keywords and test questions are stripped when saved: these two are kept without their first character.
STRIPPED = frozenset(p for p in FORMULA_PAYLOADS if p.strip() != p)


def csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def assert_csv_safe(rows: list[list[str]], payload: str) -> None:
    """The payload is in the file only quoted, and no cell starts with a formula character."""
    cells = [cell for row in rows for cell in row]
    assert "'" + payload in cells, payload
    assert payload not in cells, payload
    for cell in cells:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell


def xlsx_cells(data: bytes) -> list[Any]:
    """Every cell of every sheet, as openpyxl reads them (formulas not evaluated)."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data))
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]


def assert_xlsx_safe(data: bytes, payload: str) -> None:
    """The payload is a string cell with a leading quote, and the workbook holds no formula at all."""
    cells = xlsx_cells(data)
    matching = [cell for cell in cells if cell.value == "'" + payload]
    assert matching, payload
    assert all(cell.data_type == "s" for cell in matching), payload
    assert all(cell.value != payload for cell in cells), payload
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
