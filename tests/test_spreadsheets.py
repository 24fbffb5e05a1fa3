"""The formula-safe cell rule of ``genai_platform.spreadsheets``: exact to undo, used by every CSV and XLSX writer."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES

from audit.standalone import verify_export
from genai_platform import spreadsheets
from genai_platform.spreadsheets import cell_safe, cell_unquote, csv_writer, xlsx_append, xlsx_cell

from .spreadsheet_payloads import FORMULA_PAYLOADS, assert_csv_safe, assert_xlsx_safe, csv_cells

ROOT = Path(__file__).resolve().parents[1]


def test_payloads_get_one_leading_quote_and_other_values_are_untouched():
    for payload in FORMULA_PAYLOADS:
        assert cell_safe(payload) == "'" + payload
    assert cell_safe("\rCR") == "'\rCR"
    for value in ("plain", "中文", "", " =1", "a=b", "'", 7, -1, 2.5, None):
        expected = "''" if value == "'" else value
        assert cell_safe(value) == expected


def test_unquoting_undoes_the_rule_exactly_and_keeps_a_quote_a_person_typed():
    rng = random.Random(23)
    alphabet = ["=", "+", "-", "@", "\t", "\r", "'", "a", "中", " ", "1"]
    samples = [*FORMULA_PAYLOADS, "", "'", "''", "'''=", "'a"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(5000)]
    for text in samples:
        assert cell_unquote(cell_safe(text)) == text, repr(text)
        # The standalone verifier keeps its own copy of the rule: both read every cell the same way.
        assert verify_export.cell_unquote(cell_safe(text)) == text, repr(text)
        assert verify_export.cell_unquote(text) == cell_unquote(text), repr(text)
    assert cell_unquote("'abc") == "'abc"  # not a quote the rule adds
    assert verify_export.QUOTED_FIRST == spreadsheets.QUOTED_FIRST


def test_csv_writer_quotes_text_cells_only():
    out = io.StringIO()
    csv_writer(out).writerows([["head"], *([payload] for payload in FORMULA_PAYLOADS)])
    rows = csv_cells(out.getvalue())
    for payload in FORMULA_PAYLOADS:
        assert_csv_safe(rows, payload)
    numbers = io.StringIO()
    csv_writer(numbers).writerow([-1, 2.5, None])
    assert numbers.getvalue() == "-1,2.5,\r\n"  # numbers stay numbers


def test_csv_rows_with_a_carriage_return_read_back_whole_with_a_newline_terminator():
    # csv.writer leaves a lone carriage return unquoted when the terminator is "\n" (the audit export's).
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\n")
    writer.writerows([["a\rb", "\rCR", None, 3], ["plain", "x", "", 4]])
    assert csv_cells(out.getvalue()) == [["a\rb", "'\rCR", "", "3"], ["plain", "x", "", "4"]]


def test_xlsx_cells_are_strings_never_formulas_or_error_values():
    assert spreadsheets._ERROR_CODES == frozenset(ERROR_CODES)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("s")
    for payload in FORMULA_PAYLOADS:
        xlsx_append(sheet, [payload, "#N/A", 3])
    data = io.BytesIO()
    workbook.save(data)
    for payload in FORMULA_PAYLOADS:
        assert_xlsx_safe(data.getvalue(), payload)
    assert xlsx_cell(sheet, 3) == 3 and xlsx_cell(sheet, None) is None
    assert xlsx_cell(sheet, "#N/A").data_type == "s"


# The modules allowed to write CSV or XLSX without the helpers: none but the helpers themselves.
_WRITERS = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\bWorkbook\(")


def test_every_module_that_writes_csv_or_xlsx_uses_the_formula_safe_helpers():
    offenders = []
    for app in ("genai_platform", "generation", "filing", "audit"):
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            relative = path.relative_to(ROOT).as_posix()
            if relative == "genai_platform/spreadsheets.py" or not _WRITERS.search(text):
                continue
            if "csv.writer(" in text or "csv.DictWriter(" in text or "genai_platform.spreadsheets" not in text:
                offenders.append(relative)
    assert not offenders, f"write CSV and XLSX through genai_platform.spreadsheets: {offenders}"
