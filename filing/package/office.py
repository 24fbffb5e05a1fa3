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
