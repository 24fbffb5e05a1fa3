"""The implicit label: the AIGC metadata object of GB 45438-2025 Appendix E.

Wrapped form ``{"AIGC": {...}}`` and bare form ``{...}`` both carry the same seven fields, in the
order of the standard. Values use the characters of App. E j): printable ASCII without space,
``"`` or ``\\`` (0x21, 0x23-0x5B, 0x5D-0x7E), so a label never needs escaping in JSON, YAML or XML
attribute quotes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from django.utils.translation import gettext as _

LABEL_KEY = "AIGC"
LABEL_IS_AI = "1"
FIELDS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
REQUIRED_FIELDS = ("Label", "ContentProducer", "ProduceID")
ALLOWED_LABEL_VALUES = ("1", "2", "3")
# A label is a few hundred bytes; anything far larger is not a label and is not parsed.
MAX_LABEL_JSON_BYTES = 8 * 1024
MAX_VALUE_LENGTH = 1024
# Nesting allowed in the JSON of a label: the wrapper and the field object.
MAX_JSON_DEPTH = 2


class LabelError(Exception):
    """A label could not be written or read; the message is one sentence for a person."""


class LabelFormatError(LabelError):
    """The input is not a readable label or file (malformed, hostile or too large)."""


def char_allowed(ch: str) -> bool:
    code = ord(ch)
    return code == 0x21 or 0x23 <= code <= 0x5B or 0x5D <= code <= 0x7E


def value_check(name: str, value: object) -> str:
    """Return the value if it is a string in the label character set, else raise LabelFormatError."""
    if not isinstance(value, str):
        raise LabelFormatError(_("The label field %(name)s is not a string.") % {"name": name})
    if len(value) > MAX_VALUE_LENGTH:
        raise LabelFormatError(_("The label field %(name)s is longer than allowed.") % {"name": name})
    for position, ch in enumerate(value, start=1):
        if not char_allowed(ch):
            raise LabelFormatError(
                _(
                    "The label field %(name)s has a character outside printable ASCII "
                    "(no space, quote or backslash) at position %(pos)d."
                )
                % {"name": name, "pos": position}
            )
    return value


@dataclass(frozen=True)
class AigcLabel:
    """The seven fields, as written in a file."""

    Label: str
    ContentProducer: str
    ProduceID: str
    ReservedCode1: str = ""
    ContentPropagator: str = ""
    PropagateID: str = ""
    ReservedCode2: str = ""

    def __post_init__(self) -> None:
        for name in FIELDS:
            value_check(name, getattr(self, name))
        for name in REQUIRED_FIELDS:
            if not getattr(self, name):
                raise LabelFormatError(_("The label field %(name)s is empty.") % {"name": name})
        if self.Label not in ALLOWED_LABEL_VALUES:
            raise LabelFormatError(_("The label field Label must be 1, 2 or 3."))

    def fields(self) -> dict[str, str]:
        """The fields in the order of the standard."""
        values = asdict(self)
        return {name: values[name] for name in FIELDS}

    def wrapped(self) -> dict[str, dict[str, str]]:
        return {LABEL_KEY: self.fields()}

    def to_json(self, *, wrapped: bool = True) -> str:
        """Compact JSON, plain ASCII (no Base64 around it), fields in the standard's order."""
        body = self.wrapped() if wrapped else self.fields()
        return json.dumps(body, separators=(",", ":"), ensure_ascii=True)


def utf8_within(data: bytes, limit: int, *, too_large: str, not_utf8: str) -> str:
    """``data`` decoded, if it is at most ``limit`` bytes of UTF-8; else LabelFormatError saying which it is not."""
    if len(data) > limit:
        raise LabelFormatError(too_large)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LabelFormatError(not_utf8) from None


def json_nesting_within(text: str, limit: int) -> bool:
    """Whether the JSON ``text`` nests objects and arrays at most ``limit`` deep, checked by a scan that
    skips strings, before anything hands it to the recursive JSON parser."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > limit:
                return False
        elif ch in "}]":
            depth -= 1
    return True


def _json_depth_check(text: str) -> None:
    """Refuse nesting deeper than a label needs before handing the text to the JSON parser."""
    if not json_nesting_within(text, MAX_JSON_DEPTH):
        raise LabelFormatError(_("The label JSON is nested deeper than a label can be."))


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Two values for one field would let two readers see two different labels.
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise LabelFormatError(_("The label names the field %(name)s twice.") % {"name": key[:40]})
        result[key] = value
    return result


def label_from_mapping(data: object) -> AigcLabel:
    """A label from the wrapped ``{"AIGC": {...}}`` or the bare ``{...}`` mapping."""
    if not isinstance(data, dict):
        raise LabelFormatError(_("The label is not a JSON object."))
    if set(data) == {LABEL_KEY}:
        data = data[LABEL_KEY]
        if not isinstance(data, dict):
            raise LabelFormatError(_("The AIGC entry of the label is not an object."))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise LabelFormatError(
            _("The label has fields the standard does not define: %(names)s.") % {"names": ", ".join(unknown)[:200]}
        )
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise LabelFormatError(_("The label lacks the required fields: %(names)s.") % {"names": ", ".join(missing)})
    return AigcLabel(**{name: data.get(name, "") for name in FIELDS})


def label_from_json(text: str | bytes) -> AigcLabel:
    """Parse a label in wrapped or bare JSON form, with size and nesting bounded."""
    too_large = _("The label JSON is larger than a label can be.")
    if isinstance(text, bytes):
        text = utf8_within(
            text, MAX_LABEL_JSON_BYTES, too_large=too_large, not_utf8=_("The label JSON is not valid UTF-8.")
        )
    if len(text) > MAX_LABEL_JSON_BYTES:
        raise LabelFormatError(too_large)
    _json_depth_check(text)
    try:
        data = json.loads(text, object_pairs_hook=_object_without_duplicates)
    except ValueError:
        raise LabelFormatError(_("The label is not valid JSON.")) from None
    return label_from_mapping(data)
