"""Ci tunes (词牌): the forms pieces of each tune take in a corpus, and how an opening line fits one.

A ci is written to a tune; the tune fixes how many characters each line (clause) has. In the training text
every piece is one line ``<tune>：<body>``, so the forms can be read off the corpus: a piece's form is the
list of its clause lengths, the clauses being what lies between punctuation marks. The most common form of
a tune is the one the language model is guided by when it writes a piece to that tune.

Pure Python (no torch, no ORM): the web process validates openings with it, the sampler follows the forms.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

TUNE_SEPARATOR = "："
# Marks that end a clause inside a piece, and those that may end a piece.
CLAUSE_MARKS = "，。、？！；：,.?!;:"
PIECE_END_MARKS = "。？！"
DEFAULT_PIECE_END = "。"
# Pieces whose tune is unknown are filed under this name in the chinese-poetry corpus: not a tune.
NOT_A_TUNE = frozenset({"失调名", ""})
DEFAULT_TUNE_COUNT = 20

_CLAUSE_SPLIT = re.compile(f"[{re.escape(CLAUSE_MARKS)}]")


@dataclass(frozen=True)
class Tune:
    """One tune of a corpus: how many pieces use it, its most common form and the share of pieces in that form."""

    name: str
    pieces: int
    form: tuple[int, ...]
    form_share: float
    # The punctuation mark after each clause most often seen in pieces of this form (empty if unknown).
    marks: str = ""

    @property
    def characters(self) -> int:
        """Characters of a piece in this form, punctuation included (one mark after each clause)."""
        return sum(self.form) + len(self.form)

    def pattern(self) -> str:
        """The form as a reader sees it, e.g. ``7，7，7。7，7，7。``, with the marks the corpus's pieces use."""
        marks = self.marks if len(self.marks) == len(self.form) else "，" * (len(self.form) - 1) + "。"
        return "".join(f"{length}{mark}" for length, mark in zip(self.form, marks, strict=True))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pieces": self.pieces,
            "form": list(self.form),
            "form_share": self.form_share,
            "marks": self.marks,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Tune:
        return cls(
            name=str(values["name"]),
            pieces=int(values["pieces"]),
            form=tuple(int(n) for n in values["form"]),
            form_share=float(values["form_share"]),
            marks=str(values.get("marks", "")),
        )


def clause_lengths(body: str) -> tuple[int, ...]:
    """The form of a piece's body: the length of each clause between punctuation marks (a trailing mark ends none)."""
    clauses = _CLAUSE_SPLIT.split(body)
    if clauses and clauses[-1] == "":
        clauses.pop()
    return tuple(len(clause) for clause in clauses)


def piece_split(line: str) -> tuple[str, str] | None:
    """(tune, body) of one corpus line ``<tune>：<body>``, or None when the line names no tune."""
    tune, separator, body = line.partition(TUNE_SEPARATOR)
    if not separator or not body:
        return None
    return tune, body


def tune_table(text: str, *, top: int = DEFAULT_TUNE_COUNT) -> list[Tune]:
    """The ``top`` tunes with the most pieces in ``text`` (one piece a line), each with its most common form."""
    forms: dict[str, Counter[tuple[int, ...]]] = defaultdict(Counter)
    marks: dict[tuple[str, tuple[int, ...]], Counter[str]] = defaultdict(Counter)
    for line in text.splitlines():
        split = piece_split(line)
        if split is None or split[0] in NOT_A_TUNE:
            continue
        form = clause_lengths(split[1])
        if form and all(form):
            forms[split[0]][form] += 1
            marks[split[0], form]["".join(c for c in split[1] if c in CLAUSE_MARKS)] += 1
    ranked = sorted(forms.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:top]
    table = []
    for name, counts in ranked:
        pieces = sum(counts.values())
        form, count = max(counts.items(), key=lambda item: (item[1], item[0]))
        usual = max(marks[name, form].items(), key=lambda item: (item[1], item[0]))[0]
        table.append(
            Tune(
                name=name,
                pieces=pieces,
                form=form,
                form_share=round(count / pieces, 4),
                marks=usual if len(usual) == len(form) else "",
            )
        )
    return table


class OpeningMisfit(ValueError):  # noqa: N818 (the name says what went wrong)
    """The opening does not fit the tune's form. ``problem`` is ``too_long`` (longer than a whole piece),
    ``line_short`` (a line ended by a mark before its length) or ``line_long``; ``line`` counts from 1."""

    def __init__(self, problem: str, *, line: int, expected: int, got: int) -> None:
        super().__init__(f"{problem}: line {line} has {expected} characters in this form, the opening's {got}")
        self.problem, self.line, self.expected, self.got = problem, line, expected, got


@dataclass(frozen=True)
class FormPosition:
    """Where in a form a text leaves off: ``clause`` is the index of the clause being written, ``written`` its
    characters so far. ``clause == len(form)`` means the piece is complete."""

    clause: int
    written: int


def form_position(form: tuple[int, ...], text: str) -> FormPosition:
    """Where ``text`` (the start of a piece) leaves off in ``form``; raises OpeningMisfit when it does not fit."""
    clause, written = 0, 0
    for char in text:
        if char.isspace():
            continue
        if clause >= len(form):
            raise OpeningMisfit("too_long", line=clause, expected=sum(form), got=len(text))
        if char in CLAUSE_MARKS:
            if written != form[clause]:
                raise OpeningMisfit("line_short", line=clause + 1, expected=form[clause], got=written)
            clause, written = clause + 1, 0
        else:
            if written >= form[clause]:
                raise OpeningMisfit("line_long", line=clause + 1, expected=form[clause], got=written + 1)
            written += 1
    return FormPosition(clause=clause, written=written)


def piece_text(tune: str, body: str) -> str:
    """A piece as delivered: the tune's name as its title, then the body with a line after each sentence."""
    lines, current = [], ""
    for char in body:
        current += char
        if char in PIECE_END_MARKS:
            lines.append(current)
            current = ""
    if current:
        lines.append(current)
    return "\n".join([tune, *lines])


def opening_fitted(tune: Tune, text: str) -> str:
    """``text`` laid into ``tune``'s form as an opening: its characters in order (whitespace and marks dropped),
    a mark after each full line but the last, cut where the form ends. Used where free text must open a piece."""
    chars = [c for c in text if not c.isspace() and c not in CLAUSE_MARKS]
    marks = tune.marks if len(tune.marks) == len(tune.form) else "，" * (len(tune.form) - 1) + DEFAULT_PIECE_END
    opening, at = [], 0
    for index, (length, mark) in enumerate(zip(tune.form, marks, strict=True)):
        line = chars[at : at + length]
        opening.extend(line)
        at += length
        if len(line) < length or at >= len(chars) or index == len(tune.form) - 1:
            break  # the net writes the mark that closes the piece
        opening.append(mark)
    return "".join(opening)
