"""The parts of the filing package: each attachment with its number, its files, whether it applies, and what it
lacks. ``build`` puts them together; ``documents`` and ``sheets`` make them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Status:
    """Whether an attachment is in the package."""

    PRESENT = "present"
    # Something of it is there, something it should hold is missing (listed in ``Part.missing``).
    INCOMPLETE = "incomplete"
    MISSING = "missing"
    NOT_APPLICABLE = "not_applicable"


@dataclass
class PackageFile:
    """One file of the package. ``generated``: a Word or Excel file the package writes (and marks while it is a
    draft); otherwise a stored file copied in as it is."""

    name: str
    body: bytes
    generated: bool = True
    note: str = ""


@dataclass
class Missing:
    """Something an attachment should hold and does not."""

    attachment: str
    item: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"attachment": self.attachment, "item": self.item, "detail": self.detail}

    def __str__(self) -> str:
        text = f"{self.attachment}：缺{self.item}"
        return f"{text}（{self.detail}）" if self.detail else text


@dataclass
class Part:
    """One attachment of the package (附件N, the 上线备案表, the 测试通道 description)."""

    name: str
    title: str
    number: int | None = None
    files: list[PackageFile] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    # Why the attachment does not apply (when ``not_applicable``).
    reason: str = ""
    not_applicable: bool = False
    # Facts a reviewer should know about the attachment that are neither missing nor a reason.
    notes: list[str] = field(default_factory=list)
    # False when its files only say that what it should hold is missing.
    has_content: bool = True

    @property
    def status(self) -> str:
        if self.not_applicable:
            return Status.NOT_APPLICABLE
        if not self.missing:
            return Status.PRESENT
        return Status.INCOMPLETE if self.files and self.has_content else Status.MISSING

    def lack(self, item: str, detail: str = "") -> None:
        self.missing.append(Missing(self.name, item, detail))

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "files": [f.name for f in self.files],
            "missing": [m.as_dict() for m in self.missing],
            "notes": list(self.notes),
        }


def stored_bytes(field_file: Any) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def base_name(field_file: Any) -> str:
    return (field_file.name or "").rsplit("/", 1)[-1]
