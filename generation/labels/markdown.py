"""Markdown carrier: YAML front matter with an ``AIGC`` mapping of the seven fields (PG-20258A §6.5).

The front matter is written here, not by a YAML library, and read back by a small reader that
understands only what a label needs: ``AIGC:`` followed by indented ``Key: "value"`` lines, or
``AIGC:`` followed by the label as JSON on the same line (wrapped or bare). Anchors, aliases, tags
and other YAML machinery are refused rather than interpreted, so nothing in an upload expands.
The content the signature covers is the UTF-8 body after the front matter, explicit notice included.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from generation.labels.aigc import FIELDS, LABEL_KEY, MAX_LABEL_JSON_BYTES, AigcLabel, LabelFormatError, utf8_within

DELIMITER = "---"
MAX_MARKDOWN_BYTES = 4 * 1024 * 1024
MAX_FRONT_MATTER_BYTES = 16 * 1024
# Front matter blocks read at the head of a file: a second one stacked on top is a second label.
MAX_FRONT_MATTER_BLOCKS = 4

_KEY_LINE_RE = re.compile(r"(?P<indent>[ ]*)(?P<key>[A-Za-z0-9_\-]+)[ ]*:(?:[ ]+(?P<value>.*?))?[ ]*")


@dataclass
class MarkdownLabelScan:
    """The raw AIGC entries found in the front matter, and the body that follows it."""

    labels: list[dict[str, str] | str] = field(default_factory=list)
    body: bytes = b""
    has_front_matter: bool = False


def front_matter_make(label: AigcLabel) -> str:
    """The front matter block, ending with its closing delimiter line."""
    lines = [DELIMITER, f"{LABEL_KEY}:"]
    # Label values cannot contain a double quote or backslash, so quoting needs no escaping.
    lines += [f'  {name}: "{value}"' for name, value in label.fields().items()]
    lines.append(DELIMITER)
    return "\n".join(lines) + "\n"


def _scalar(raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    if value[0] in "&*!|>[{@`%":
        raise LabelFormatError(
            _("The front matter uses YAML features a label does not use (anchors, aliases, tags or blocks).")
        )
    if value.startswith('"'):
        end = value.find('"', 1)
        while end > 0 and value[end - 1] == "\\":
            end = value.find('"', end + 1)
        if end < 0:
            raise LabelFormatError(_("A quoted value in the front matter is not closed."))
        rest = value[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise LabelFormatError(_("The front matter has text after a quoted value."))
        try:
            decoded = json.loads(value[: end + 1])
        except ValueError:
            raise LabelFormatError(_("A quoted value in the front matter has an invalid escape.")) from None
        return str(decoded)
    if value.startswith("'"):
        match = re.match(r"'((?:[^']|'')*)'[ ]*(#.*)?$", value)
        if not match:
            raise LabelFormatError(_("A quoted value in the front matter is not closed."))
        return match.group(1).replace("''", "'")
    return value.split(" #", 1)[0].strip()


def _block_parse(lines: list[str], scan: MarkdownLabelScan) -> None:
    """Collect every top-level AIGC entry of one front matter block."""
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            continue  # belongs to some other top-level key
        match = _KEY_LINE_RE.fullmatch(line)
        if match is None or match.group("key") != LABEL_KEY:
            continue
        inline = match.group("value")
        if inline:
            text = inline.strip()
            if text[0] in "'\"":
                text = _scalar(text)
            if len(text) > MAX_LABEL_JSON_BYTES:
                raise LabelFormatError(_("The AIGC entry of the front matter is larger than a label can be."))
            scan.labels.append(text)
            continue
        entry: dict[str, str] = {}
        while index < len(lines) and (not lines[index].strip() or lines[index][0] in " \t"):
            sub = lines[index]
            index += 1
            if not sub.strip() or sub.lstrip().startswith("#"):
                continue
            if "\t" in sub[: len(sub) - len(sub.lstrip())]:
                raise LabelFormatError(_("The front matter indents with a tab, which YAML does not allow."))
            sub_match = _KEY_LINE_RE.fullmatch(sub)
            if sub_match is None:
                raise LabelFormatError(_("A line of the AIGC entry in the front matter is not a “Key: value” pair."))
            key = sub_match.group("key")
            if key in entry:
                raise LabelFormatError(_("The AIGC entry names the field %(name)s twice.") % {"name": key})
            if key not in FIELDS:
                raise LabelFormatError(
                    _("The AIGC entry has a field the standard does not define: %(name)s.") % {"name": key[:40]}
                )
            entry[key] = _scalar(sub_match.group("value") or "")
        scan.labels.append(entry)


def markdown_labels_scan(data: bytes) -> MarkdownLabelScan:
    """Read the front matter block(s) at the head of a Markdown file; raise LabelFormatError."""
    utf8_within(
        data,
        MAX_MARKDOWN_BYTES,
        too_large=_("The text file is larger than the %(mb)d MB this service reads.")
        % {"mb": MAX_MARKDOWN_BYTES >> 20},
        not_utf8=_("The text file is not valid UTF-8."),
    )
    scan = MarkdownLabelScan()
    rest = data
    for _block in range(MAX_FRONT_MATTER_BLOCKS):
        first, newline, after = rest.partition(b"\n")
        if first.rstrip(b"\r") != DELIMITER.encode() or not newline:
            break
        head = after[: MAX_FRONT_MATTER_BYTES + 1]
        closing = re.search(rb"^(?:---|\.\.\.)[ \t]*\r?$", head, re.MULTILINE)
        if closing is None:
            if len(after) > MAX_FRONT_MATTER_BYTES:
                raise LabelFormatError(_("The front matter is larger than the size a label can have."))
            raise LabelFormatError(_("The front matter at the head of the file is not closed with “---”."))
        block = after[: closing.start()].decode("utf-8")
        end = closing.end()
        if after[end : end + 1] == b"\n":
            end += 1
        scan.has_front_matter = True
        _block_parse(block.replace("\r\n", "\n").split("\n"), scan)
        rest = after[end:]
    scan.body = rest
    return scan


def body_of(markdown: str) -> bytes:
    """The signed content of a labelled Markdown file: its bytes after the front matter."""
    return markdown_labels_scan(markdown.encode("utf-8")).body
