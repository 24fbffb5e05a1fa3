"""The files of the filing package made reproducible: zip entries with a fixed date, Office files with fixed
entry dates and document properties, Word tables, and the report as PDF where LibreOffice is installed."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from filing.safety.tabular import xlsx_write_sheets
from genai_platform.spreadsheets import cell_safe

# Every entry of the zip, and every part of the Office files in it, carries this date.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FIXED_ISO = "2000-01-01T00:00:00Z"


def zip_entry(name: str) -> zipfile.ZipInfo:
    """A deflated zip entry ``name`` with the fixed date and plain file permissions."""
    entry = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    return entry


def ooxml_normalise(data: bytes) -> bytes:
    """Rewrite an Office (zip) file with fixed entry dates and fixed created/modified properties."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)", rf"\g<1>{FIXED_ISO}\g<3>", text
                )
                body = text.encode("utf-8")
            target.writestr(zip_entry(info.filename), body)
    return out.getvalue()


def xlsx_bytes(sheets: list[tuple[str, list[list[Any]]]]) -> bytes:
    stream = io.BytesIO()
    xlsx_write_sheets(sheets, stream)
    return ooxml_normalise(stream.getvalue())


def docx_new() -> Any:
    from docx import Document as DocxDocument

    document = DocxDocument()
    properties = document.core_properties
    properties.author = "genai-platform"
    properties.last_modified_by = "genai-platform"
    properties.revision = 1
    return document


def docx_bytes(document: Any) -> bytes:
    stream = io.BytesIO()
    document.save(stream)
    return ooxml_normalise(stream.getvalue())


def pairs_table(document: Any, rows: list[tuple[str, Any]]) -> None:
    """A two-column table of labels and values (``None`` as an empty cell)."""
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text = str(label)
        cells[1].text = "" if value is None else str(value)


def grid_table(document: Any, titles: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table with a header row of ``titles`` and a row of cells per item of ``rows``."""
    table = document.add_table(rows=1, cols=len(titles))
    table.style = "Table Grid"
    for cell, title in zip(table.rows[0].cells, titles, strict=True):
        cell.text = title
    for values in rows:
        for cell, value in zip(table.add_row().cells, values, strict=True):
            cell.text = str(value)


def signature_block(document: Any, signers: Sequence[tuple[str, str]]) -> None:
    """Lines to sign by hand: each signer's role and printed name with room for the signature, then the seal
    and the date (printed, signed and sealed on paper)."""
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for role, name in signers:
        cells = table.add_row().cells
        cells[0].text = f"{role}（签字）"
        cells[1].text = f"{name}\n\n" if name else "\n\n"
    for label in ("单位（盖章）", "日期"):
        cells = table.add_row().cells
        cells[0].text = label
        cells[1].text = "\n\n" if label != "日期" else "　　　　年　　月　　日"


def page_break(document: Any) -> None:
    from docx.enum.text import WD_BREAK

    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def docx_mark_draft(data: bytes, *, mark: str, lines: Sequence[str]) -> bytes:
    """``data`` (a DOCX) marked as a draft: ``mark`` in the header of every section, and on the first page
    ``mark`` again followed by ``lines`` (what is still open)."""
    from docx import Document as DocxDocument
    from docx.shared import RGBColor

    document = DocxDocument(io.BytesIO(data))
    for section in document.sections:
        header = section.header
        header.is_linked_to_previous = False
        paragraph = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
        paragraph.text = mark
        for run in paragraph.runs:
            run.bold = True
            run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    first = document.paragraphs[0] if document.paragraphs else document.add_paragraph()
    heading = first.insert_paragraph_before()
    run = heading.add_run(mark)
    run.bold = True
    run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    for line in lines:
        first.insert_paragraph_before(f"· {line}")
    return docx_bytes(document)


def xlsx_mark_draft(data: bytes, *, note: str) -> bytes:
    """``data`` (an XLSX) marked as a draft: a first row holding ``note`` above the contents of every sheet."""
    from openpyxl import load_workbook
    from openpyxl.styles import Font

    workbook = load_workbook(io.BytesIO(data))
    for sheet in workbook.worksheets:
        sheet.insert_rows(1)
        cell = sheet.cell(row=1, column=1)
        # Made safe like every text cell the platform writes (the note is ours, but the rule has no exceptions).
        cell.value = cell_safe(note)
        cell.data_type = "s"
        cell.font = Font(bold=True, color="C00000")
    stream = io.BytesIO()
    workbook.save(stream)
    return ooxml_normalise(stream.getvalue())


def yes(value: bool) -> str:
    return "是" if value else "否"


def pdf_from_docx(data: bytes) -> bytes | None:
    """The report as PDF when LibreOffice is installed; ``None`` otherwise."""
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "report.docx"
        source.write_bytes(data)
        try:
            subprocess.run(
                [office, "--headless", "--convert-to", "pdf", "--outdir", tmp, str(source)],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        target = Path(tmp) / "report.pdf"
        return target.read_bytes() if target.exists() else None
